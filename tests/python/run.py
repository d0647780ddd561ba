#!/usr/bin/env python3
"""Run the Python binding's unittest suite (bindings/python/tests) against
the library of this build and print "python: N passed, M failed" for
.ci/count-results.py.

usage: run.py BINDINGS_DIR
Environment (set by meson.build): COGNITION_LIBRARY, COGNITION_SQLITE_LIBRARY;
under sanitizers LD_PRELOAD (the sanitizer runtimes, which must come first
in a process whose interpreter is not instrumented) and ASAN_OPTIONS.
"""
import os
import sys
import unittest


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: run.py BINDINGS_DIR\n")
        return 2
    bindings = os.path.abspath(sys.argv[1])
    for var in ("COGNITION_LIBRARY", "COGNITION_SQLITE_LIBRARY"):
        path = os.environ.get(var)
        if not path or not os.path.exists(path):
            print("python: 0 passed, 1 failed")
            sys.stderr.write("%s is not set to a built library (%r)\n"
                             % (var, path))
            return 1
    sys.path.insert(0, bindings)
    suite = unittest.defaultTestLoader.discover(
        os.path.join(bindings, "tests"), top_level_dir=bindings)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    import cognition  # loaded by the suite: say which library was tested
    print("library: %s (%s)" % (cognition.library_path(),
                                cognition.library_version()))
    failed = len(result.failures) + len(result.errors) + \
        len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    if result.testsRun == 0:
        failed += 1
    print("python: %d passed, %d failed" % (passed, failed + skipped))
    return 0 if failed == 0 and skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

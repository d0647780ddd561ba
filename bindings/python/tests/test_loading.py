"""How the package chooses its library: a shared object that lacks the
declared functions is refused with a clear error, never half-used."""
import ctypes.util
import os
import subprocess
import sys
import unittest

BINDINGS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _import_with(library):
    env = dict(os.environ)
    env["COGNITION_LIBRARY"] = library
    env["PYTHONPATH"] = BINDINGS
    return subprocess.run(
        [sys.executable, "-c", "import cognition"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=60)


class LoadingTest(unittest.TestCase):
    def _expect_refused(self, library):
        proc = _import_with(library)
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("LibraryNotFound", proc.stderr)
        self.assertIn("COGNITION_LIBRARY=%s is not a usable libcognition"
                      % library, proc.stderr)
        # The message names the missing functions.
        self.assertRegex(proc.stderr, r"lacks cog_\w+")

    # (Not libcognition-sqlite: it links libcognition, and symbols are
    # looked up in a library's dependencies too, so it passes as complete.)
    def test_libc_as_main_library_is_refused(self):
        libc = ctypes.util.find_library("c")
        self.assertTrue(libc, "the C library was not found")
        self._expect_refused(libc)

    def test_real_library_is_accepted(self):
        import cognition
        proc = _import_with(os.environ["COGNITION_LIBRARY"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(os.path.realpath(cognition.library_path()),
                         os.path.realpath(os.environ["COGNITION_LIBRARY"]))


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""The values of the public constants are part of the ABI.

Every COG_* object-like macro with a numeric value and every enumerator of
the public headers (include/cognition/*.h; not version.h, whose numbers change
with each release) is compiled into a small C program with the C compiler,
which prints its value; the values are compared with the baseline
tests/abi/constants.txt ("NAME VALUE" lines). A changed or removed value
fails (abidiff cannot see them: the functions take plain ints); a new
constant passes and is listed, until the baseline is updated on purpose:

    check-constants.py check|write CC INCLUDE_DIR BUILD_INCLUDE_DIR BASELINE

Prints "constants: N passed, N failed".
"""
import os
import re
import subprocess
import sys
import tempfile

DEFINE = re.compile(r'^\s*#\s*define\s+(COG_[A-Z0-9_]+)[ \t]+(\S.*)$', re.M)
ENUM = re.compile(r'\benum\b[^{;]*\{([^}]*)\}', re.S)
ENUMERATOR = re.compile(r'^\s*(COG_[A-Z0-9_]+)\s*(?:=|,|$)', re.M)


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    return re.sub(r'//[^\n]*', ' ', text)


def constant_names(include_dir):
    names = set()
    folder = os.path.join(include_dir, 'cognition')
    for name in sorted(os.listdir(folder)):
        if not name.endswith('.h') or name.startswith('version'):
            continue
        text = strip_comments(open(os.path.join(folder, name), encoding='utf-8').read())
        for macro, value in DEFINE.findall(text):
            value = value.strip()
            # numbers only: no strings, initializers, or function-like macros
            if value.startswith(('"', '{')) or macro.endswith('_INIT') or macro == 'COG_API':
                continue
            if re.fullmatch(r'[0-9a-fA-FxXuUlL()<>|+\-* ]+|COG_[A-Z0-9_]+', value):
                names.add(macro)
        for body in ENUM.findall(text):
            names.update(ENUMERATOR.findall(body.replace(',', ',\n')))
    return sorted(names)


def values(cc, include_dir, build_include, names):
    program = ['#include <stdio.h>', '#include <cognition.h>']
    for header in ('curl.h', 'sqlite.h'):
        if os.path.exists(os.path.join(include_dir, 'cognition', header)):
            program.append('#include <cognition/%s>' % header)
    program.append('int main(void)\n{')
    for name in names:
        program.append('\tprintf("%%s %%lld\\n", "%s", (long long)(%s));' % (name, name))
    program.append('\treturn 0;\n}\n')
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, 'constants.c')
        exe = os.path.join(tmp, 'constants')
        with open(source, 'w', encoding='utf-8') as f:
            f.write('\n'.join(program))
        cmd = cc.split() + ['-std=c11', '-I', include_dir, '-I', build_include,
                            source, '-o', exe]
        built = subprocess.run(cmd, capture_output=True, text=True)
        if built.returncode != 0:
            sys.exit('not ok - compiling the constants program failed:\n' + built.stderr)
        out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    return dict(line.split(' ', 1) for line in out.splitlines())


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ('check', 'write'):
        sys.exit(__doc__)
    mode, cc, include_dir, build_include, baseline = sys.argv[1:]
    now = values(cc, include_dir, build_include, constant_names(include_dir))
    if mode == 'write':
        with open(baseline, 'w', encoding='utf-8') as f:
            f.write('# The values of the public constants (tests/abi/check-constants.py write).\n')
            for name in sorted(now):
                f.write('%s %s\n' % (name, now[name]))
        print('wrote %d constants to %s' % (len(now), baseline))
        return 0
    known = {}
    for line in open(baseline, encoding='utf-8'):
        if line.strip() and not line.startswith('#'):
            name, value = line.split()
            known[name] = value
    problems = []
    for name, value in sorted(known.items()):
        if name not in now:
            problems.append('%s was removed (it was %s)' % (name, value))
        elif now[name] != value:
            problems.append('%s changed from %s to %s' % (name, value, now[name]))
    added = sorted(set(now) - set(known))
    if problems:
        print('not ok - constants of the public headers changed (an ABI break):')
        for p in problems:
            print('  ' + p)
        print('constants: 0 passed, 1 failed')
        return 1
    print('ok - the %d constants of the baseline keep their values' % len(known))
    if added:
        print('# added, not yet in the baseline: ' + ', '.join(added))
    print('constants: 1 passed, 0 failed')
    return 0


if __name__ == '__main__':
    sys.exit(main())

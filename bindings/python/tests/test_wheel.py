"""The in-tree PEP 517 backend (_build/backend.py) builds a complete wheel
with the standard library alone (what `pip install bindings/python` runs)."""
import base64
import csv
import hashlib
import importlib.util
import io
import os
import tempfile
import unittest
import zipfile

BINDINGS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _backend():
    path = os.path.join(BINDINGS, "_build", "backend.py")
    spec = importlib.util.spec_from_file_location("_cognition_backend", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class WheelTest(unittest.TestCase):
    def test_build_wheel(self):
        backend = _backend()
        self.assertEqual(backend.get_requires_for_build_wheel(), [])
        with tempfile.TemporaryDirectory() as tmp:
            name = backend.build_wheel(tmp)
            self.assertEqual(name, "cognition-0.1.0-py3-none-any.whl")
            self.assertEqual(os.listdir(tmp), [name])
            with zipfile.ZipFile(os.path.join(tmp, name)) as zf:
                names = set(zf.namelist())
                contents = {n: zf.read(n) for n in names}
        pkg = os.path.join(BINDINGS, "cognition")
        sources = sorted(n for n in os.listdir(pkg) if n.endswith(".py"))
        self.assertIn("__init__.py", sources)
        self.assertIn("_lib.py", sources)
        for src in sources:
            arc = "cognition/" + src
            self.assertIn(arc, names)
            with open(os.path.join(pkg, src), "rb") as f:
                self.assertEqual(contents[arc], f.read(), arc)
        self.assertFalse([n for n in names if n.endswith((".pyc", ".pyo"))
                          or "__pycache__" in n])
        self.assertFalse([n for n in names if n.startswith("tests/")
                          or n.startswith("_build/")])

        info = "cognition-0.1.0.dist-info/"
        meta = contents[info + "METADATA"].decode("utf-8")
        self.assertIn("Metadata-Version: 2.1\n", meta)
        self.assertIn("Name: cognition\n", meta)
        self.assertIn("Version: 0.1.0\n", meta)
        wheel = contents[info + "WHEEL"].decode("utf-8")
        self.assertIn("Root-Is-Purelib: true\n", wheel)
        self.assertIn("Tag: py3-none-any\n", wheel)

        # RECORD lists every other file with its sha256 and size, and
        # itself without either.
        rows = list(csv.reader(io.StringIO(
            contents[info + "RECORD"].decode("utf-8"))))
        recorded = {r[0]: r for r in rows}
        self.assertEqual(set(recorded), names)
        self.assertEqual(recorded[info + "RECORD"], [info + "RECORD", "", ""])
        for arc, data in contents.items():
            if arc == info + "RECORD":
                continue
            digest = base64.urlsafe_b64encode(
                hashlib.sha256(data).digest()).rstrip(b"=").decode()
            self.assertEqual(recorded[arc][1], "sha256=" + digest, arc)
            self.assertEqual(recorded[arc][2], str(len(data)), arc)


if __name__ == "__main__":
    unittest.main()

"""A PEP 517 build backend for the pure-Python package `cognition`.

Standard library only, so that `pip install bindings/python` needs no
download (no setuptools or wheel from PyPI). It writes a wheel (and an
sdist, and a PEP 660 editable wheel) holding the package directory as is.
"""
import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME = "cognition"
VERSION = "0.1.0"
SUMMARY = "Python bindings (ctypes) for libcognition"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST_INFO = "%s-%s.dist-info" % (NAME, VERSION)
TAG = "py3-none-any"


def _metadata():
    readme = ""
    path = os.path.join(ROOT, "README.md")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n"
            "License: MIT\nRequires-Python: >=3.8\n"
            "Description-Content-Type: text/markdown\n\n%s"
            % (NAME, VERSION, SUMMARY, readme))


def _wheel_file():
    return ("Wheel-Version: 1.0\nGenerator: cognition-backend\n"
            "Root-Is-Purelib: true\nTag: %s\n" % TAG)


def _package_files():
    pkg = os.path.join(ROOT, NAME)
    for dirpath, dirnames, filenames in os.walk(pkg):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, name)
            yield full, os.path.relpath(full, ROOT).replace(os.sep, "/")


def _digest(data):
    raw = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _write_wheel(directory, entries):
    filename = "%s-%s-%s.whl" % (NAME, VERSION, TAG)
    entries = list(entries) + [
        (DIST_INFO + "/METADATA", _metadata().encode("utf-8")),
        (DIST_INFO + "/WHEEL", _wheel_file().encode("utf-8")),
    ]
    record = io.StringIO()
    with zipfile.ZipFile(os.path.join(directory, filename), "w",
                         zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries:
            zf.writestr(arcname, data)
            record.write("%s,%s,%d\n" % (arcname, _digest(data), len(data)))
        record.write(DIST_INFO + "/RECORD,,\n")
        zf.writestr(DIST_INFO + "/RECORD", record.getvalue())
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    target = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    with open(os.path.join(target, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_file())
    return DIST_INFO


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = []
    for full, arcname in _package_files():
        with open(full, "rb") as f:
            entries.append((arcname, f.read()))
    return _write_wheel(wheel_directory, entries)


def build_editable(wheel_directory, config_settings=None,
                   metadata_directory=None):
    pth = (ROOT + "\n").encode("utf-8")
    return _write_wheel(wheel_directory, [("_cognition_editable.pth", pth)])


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, VERSION)
    filename = base + ".tar.gz"
    files = [os.path.join(ROOT, n) for n in ("pyproject.toml", "README.md")]
    files += [os.path.join(ROOT, "_build", "backend.py")]
    files += [full for full, _ in _package_files()]
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tf:
        for full in files:
            if os.path.exists(full):
                tf.add(full, arcname=base + "/" + os.path.relpath(full, ROOT))
        pkg_info = _metadata().encode("utf-8")
        info = tarfile.TarInfo(base + "/PKG-INFO")
        info.size = len(pkg_info)
        tf.addfile(info, io.BytesIO(pkg_info))
    return filename

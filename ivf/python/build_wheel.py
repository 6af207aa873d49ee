"""Writes ivfjit's wheel for this platform: bazel run //ivf/python:wheel -- --out_dir=DIR.

The wheel holds the package (ivfjit/__init__.py, the extension, the type stub). The extension
links Debian's shared libraries (Abseil, OpenBLAS, LLVM 16, libgomp, zlib), which
third_party/install_deps.sh installs; docs/python.md lists them.
"""
import argparse
import base64
import hashlib
import os
import sys
import sysconfig
import zipfile

VERSION = "0.1.0"
FILES = ["__init__.py", "__init__.pyi", "_ivfjit.so", "py.typed"]


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out_dir", required=True)
    args = parser.parse_args()
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ivfjit")
    if not os.path.exists(os.path.join(here, "_ivfjit.so")):
        # Under bazel run the data files sit in the runfiles tree.
        here = os.path.join(os.environ.get("RUNFILES_DIR", sys.argv[0] + ".runfiles"),
                            "ivfjit", "ivf", "python", "ivfjit")
    py = "cp%d%d" % sys.version_info[:2]
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = "%s-%s-%s" % (py, py, plat)
    out_dir = os.path.abspath(os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", "."),
                                           args.out_dir))
    os.makedirs(out_dir, exist_ok=True)
    wheel = os.path.join(out_dir, "ivfjit-%s-%s.whl" % (VERSION, tag))
    info = "ivfjit-%s.dist-info" % VERSION
    metadata = ("Metadata-Version: 2.1\nName: ivfjit\nVersion: %s\n"
                "Summary: Flat and IVF-Flat vector search with Faiss's API and run-time "
                "generated kernels\nRequires-Python: >=3.11,<3.12\nRequires-Dist: numpy\n"
                % VERSION)
    wheel_meta = ("Wheel-Version: 1.0\nGenerator: ivfjit build_wheel.py\nRoot-Is-Purelib: false\n"
                  "Tag: %s\n" % tag)
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name in FILES:
            with open(os.path.join(here, name), "rb") as f:
                data = f.read()
            z.writestr("ivfjit/" + name, data)
            records.append(record_line("ivfjit/" + name, data))
        for name, text in (("METADATA", metadata), ("WHEEL", wheel_meta)):
            z.writestr(info + "/" + name, text)
            records.append(record_line(info + "/" + name, text.encode()))
        records.append(info + "/RECORD,,")
        z.writestr(info + "/RECORD", "\n".join(records) + "\n")
    print(wheel)


if __name__ == "__main__":
    main()

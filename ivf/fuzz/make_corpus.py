"""Writes the fuzz targets' seed corpora (checked in; rerun after a format change):
    python3 ivf/fuzz/make_corpus.py        (with the ivfjit package importable, and faiss)
Small valid files of every kind each parser reads, so that fuzzing starts from deep paths.
load_index/v1_* are ivfjit files of format version 1, kept from before version 2 (the writer
no longer produces them; the reader still reads them)."""
import gzip
import io
import os
import struct
import sys
import tempfile
import zlib

import numpy as np

import faiss
import ivfjit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def out(kind, name, data):
    d = os.path.join(ROOT, "ivf/fuzz/corpus", kind) if kind != "blob_cache" else \
        os.path.join(ROOT, "jit/internal/corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def index_bytes(write, index, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "i" + suffix)
        write(index, path)
        return open(path, "rb").read()


def main():
    rng = np.random.default_rng(1)
    x = rng.random((12, 4), dtype=np.float32)
    # ivfjit's own format.
    flat = ivfjit.IndexFlatL2(4)
    flat.add(x)
    out("load_index", "flat_l2", index_bytes(ivfjit.write_index, flat, ".ivfjit"))
    ip = ivfjit.IndexFlatIP(4)
    ip.add(x[:3])
    out("load_index", "flat_ip", index_bytes(ivfjit.write_index, ip, ".ivfjit"))
    ivf = ivfjit.IndexIVFFlat(ivfjit.IndexFlatL2(4), 4, 2)
    ivf.train(np.vstack([x] * 8))
    ivf.add(x)
    out("load_index", "ivf", index_bytes(ivfjit.write_index, ivf, ".ivfjit"))
    empty = ivfjit.IndexIVFFlat(ivfjit.IndexFlatL2(4), 4, 3)
    out("load_index", "ivf_untrained", index_bytes(ivfjit.write_index, empty, ".ivfjit"))
    for name, qtype in (("sq8", ivfjit.ScalarQuantizer.QT_8bit),
                        ("sqfp16", ivfjit.ScalarQuantizer.QT_fp16)):
        sq = ivfjit.IndexIVFScalarQuantizer(ivfjit.IndexFlatL2(4), 4, 2, qtype)
        sq.train(np.vstack([x] * 8))
        sq.add(x)
        out("load_index", "ivf_" + name, index_bytes(ivfjit.write_index, sq, ".ivfjit"))
    # Faiss's format, written by Faiss.
    f = faiss.IndexFlatL2(4)
    f.add(x)
    out("faiss_index", "flat_l2", index_bytes(faiss.write_index, f, ".faiss"))
    f = faiss.IndexFlatIP(4)
    f.add(x[:2])
    out("faiss_index", "flat_ip", index_bytes(faiss.write_index, f, ".faiss"))
    q = faiss.IndexFlatL2(4)
    fivf = faiss.IndexIVFFlat(q, 4, 2)
    fivf.train(np.vstack([x] * 8))
    fivf.add(x)
    out("faiss_index", "ivf_full", index_bytes(faiss.write_index, fivf, ".faiss"))
    q2 = faiss.IndexFlatL2(4)
    sparse = faiss.IndexIVFFlat(q2, 4, 16)
    sparse.train(rng.random((16 * 39, 4), dtype=np.float32))
    sparse.add(x[:2])
    out("faiss_index", "ivf_sparse", index_bytes(faiss.write_index, sparse, ".faiss"))
    fivf.make_direct_map()
    out("faiss_index", "ivf_direct_map", index_bytes(faiss.write_index, fivf, ".faiss"))
    for name, qtype in (("sq8", faiss.ScalarQuantizer.QT_8bit),
                        ("sqfp16", faiss.ScalarQuantizer.QT_fp16)):
        fsq = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatL2(4), 4, 2, qtype)
        fsq.train(np.vstack([x] * 8))
        fsq.add(x)
        out("faiss_index", "ivf_" + name, index_bytes(faiss.write_index, fsq, ".faiss"))
    # Vector and id files; the first byte picks the reader (vector_files_fuzz.cc).
    fv = b"".join(struct.pack("<i", 4) + row.tobytes() for row in x[:3])
    out("vector_files", "fvecs", b"\x00" + fv)
    bv = b"".join(struct.pack("<i", 4) + bytes(row) for row in (x[:3] * 255).astype(np.uint8))
    out("vector_files", "bvecs", b"\x01" + bv)
    buf = io.BytesIO()
    np.save(buf, x[:3])
    out("vector_files", "npy_f4", b"\x02" + buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, (x[:3] * 255).astype(np.uint8))
    out("vector_files", "npy_u1", b"\x02" + buf.getvalue())
    idx = struct.pack(">iiii", 0x803, 2, 2, 3) + bytes(range(12))
    out("vector_files", "idx_raw", b"\x03" + idx)
    out("vector_files", "idx_gz", b"\x03" + gzip.compress(idx))
    iv = b"".join(struct.pack("<i", 2) + struct.pack("<ii", i, i + 1) for i in range(3))
    out("vector_files", "ivecs", b"\x04" + iv)
    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype=np.int64).reshape(3, 2))
    out("vector_files", "npy_i8", b"\x05" + buf.getvalue())
    # JIT cache entries: magic, version, key length, key, payload length, payload, CRC-32.
    for name, key in (("entry", "op=scan_topk|metric=l2|d=8"), ("foreign", "op=ip_tile|d=9")):
        payload = b"\x7fELF" + bytes(60)
        body = (b"IVJK" + struct.pack("<II", 1, len(key)) + key.encode() +
                struct.pack("<Q", len(payload)) + payload)
        out("blob_cache", name, body + struct.pack("<I", zlib.crc32(body)))


if __name__ == "__main__":
    sys.exit(main())

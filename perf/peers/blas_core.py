#!/usr/bin/env python3
"""Runs the faiss-cpu wheel at its best OpenBLAS core type on this host (fair baselines).

The wheel bundles its own OpenBLAS (0.3.15 in faiss-cpu 1.15.1), which picks its kernels from
the CPU it detects at load time. On a CPU newer than the library it can guess badly: on the
Xeon with AVX-512 FP16 / AMX this project is measured on it detects "Prescott" (SSE3 kernels,
~70 GFLOP/s) where its SkylakeX kernels reach ~190-290. A comparison must not profit from that.

  import blas_core
  blas_core.choose_and_reexec()   # first thing in main(): may re-exec the process once
  row.update(blas_core.row_fields())

choose_and_reexec() times a 1024 x 4096 x 128 inner-product search (sgemm) in a subprocess
per candidate OPENBLAS_CORETYPE (unset = the library's own detection first), keeps the fastest
(another core only when it is > 10 % faster than the detected one) and re-executes the
calling script with OPENBLAS_CORETYPE set to it. A user's own OPENBLAS_CORETYPE is respected
(no probe). row_fields() reports the core in use, the one detected and the probe.
"""
import ctypes
import glob
import json
import os
import subprocess
import sys
import time

CANDIDATES = ("", "Haswell", "SkylakeX", "Cooperlake", "SapphireRapids", "Zen")
_CHOSEN = "IVFJIT_BLAS_CHOICE"  # set by choose_and_reexec for the re-executed process


def _faiss_openblas():
    import faiss
    libs = os.path.join(os.path.dirname(faiss.__file__), "..", "faiss_cpu.libs")
    paths = glob.glob(os.path.join(libs, "libopenblas*.so*"))
    if not paths:
        return None
    lib = ctypes.CDLL(paths[0])  # already loaded by faiss: the same handle
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return lib


def corename():
    """The core type the faiss-cpu wheel's OpenBLAS runs ("?" when it has none)."""
    lib = _faiss_openblas()
    return lib.openblas_get_corename().decode() if lib is not None else "?"


def probe(d=128, runs=8):
    """(core name, GFLOP/s of faiss's BLAS search of 1024 queries x 4096 rows x d)."""
    import faiss
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.random((4096, d), dtype="float32")
    q = rng.random((1024, d), dtype="float32")
    index = faiss.IndexFlatIP(d)
    index.add(x)
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        index.search(q, 1)
        best = min(best, time.perf_counter() - t0)
    return corename(), 2.0 * 1024 * 4096 * d / best / 1e9


def _host_runs(cand):
    """Whether this CPU has the instructions of a core type's kernels (OpenBLAS takes a forced
    core type whatever the CPU; on an AVX2-only host a SkylakeX run can die of SIGILL)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return not cand
    flags = set(flags)
    avx2 = {"avx2", "fma"} <= flags
    avx512 = avx2 and {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags
    needs = {"": True, "Haswell": avx2, "Zen": avx2, "SkylakeX": avx512,
             "Cooperlake": avx512 and "avx512_bf16" in flags,
             "SapphireRapids": avx512 and {"avx512_bf16", "avx512_fp16"} <= flags}
    return needs.get(cand, False)


def choose_and_reexec():
    if "OPENBLAS_CORETYPE" in os.environ or _CHOSEN in os.environ:
        return
    results = []  # (candidate, core, gflops)
    for cand in CANDIDATES:
        if not _host_runs(cand):
            continue
        env = dict(os.environ)
        env["OPENBLAS_CORETYPE"] = cand
        if not cand:
            env.pop("OPENBLAS_CORETYPE")
        try:
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--probe"], env=env,
                                 capture_output=True, text=True, timeout=300, check=True).stdout
            core, gflops = out.split()
            results.append((cand, core, float(gflops)))
        except (subprocess.SubprocessError, ValueError, OSError) as e:
            print(f"[blas_core] probe {cand or '(detect)'} failed: {e}", file=sys.stderr)
    if not results or results[0][0] != "":
        return  # no faiss-cpu, or its own detection could not be timed: leave it alone
    # Names the library does not know run its detected core: a core's rate is the best of its
    # probes, so timing noise between two probes of one core cannot switch it.
    detected = (results[0][0], results[0][1], max(g for _, c, g in results if c == results[0][1]))
    best = max(results, key=lambda r: r[2])
    use = best if best[1] != detected[1] and best[2] > 1.1 * detected[2] else detected
    choice = {"detected": detected[1], "chosen": use[1],
              "probe_gflops": {core: round(g, 1)
                               for _, core, g in sorted(results, key=lambda r: r[2])}}
    print(f"[blas_core] faiss-cpu's OpenBLAS: detected {detected[1]} ({detected[2]:.0f} GFLOP/s), "
          f"running {use[1]} ({use[2]:.0f}); probe {choice['probe_gflops']}", file=sys.stderr)
    env = dict(os.environ)
    env[_CHOSEN] = json.dumps(choice)
    if use[0]:
        env["OPENBLAS_CORETYPE"] = use[0]
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def row_fields():
    """Fields for a row of the faiss-cpu peer: blas_core (in use), blas_core_detected and the
    probe's GFLOP/s per core (empty when the core was set by the user)."""
    choice = json.loads(os.environ.get(_CHOSEN, "{}"))
    return {"blas_core": corename(),
            "blas_core_detected": choice.get("detected", "(OPENBLAS_CORETYPE set by the user)"),
            "blas_probe_gflops": choice.get("probe_gflops", {})}


if __name__ == "__main__" and sys.argv[1:] == ["--probe"]:
    name, rate = probe()
    print(name, f"{rate:.3f}")

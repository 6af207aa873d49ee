#!/usr/bin/env python3
"""Renders the README figures from benchmarks/benchmarks.jsonl with gnuplot.

`bazel run //perf:figures` (or `python3 perf/figures.py [REPO_ROOT]`). For each figure it takes
the rows of the most recent sweep run (run_id) that swept that workload with ivfjit (a partial,
peers-only run is skipped), so a figure never mixes runs:
  docs/fig_fmnist_qps_recall.png  W1 Fashion-MNIST, IVF nprobe sweep: batch QPS vs recall@10
  docs/fig_seed_qps_nq.png        W2 the seed's shape: QPS vs nq, per implementation and mode
"""
import json
import os
import subprocess
import sys
import tempfile


def load(root):
    path = os.path.join(root, "benchmarks", "benchmarks.jsonl")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def latest_run(rows, workload, index, sweep_key):
    """Rows of the latest run that swept `workload` with ivfjit (at least 3 values of
    `sweep_key`, so a partial run such as a peers-only one is skipped), with its peers."""
    def swept(run):
        values = {r[sweep_key] for r in rows if r.get("run_id") == run
                  and r["workload"] == workload and r["impl"] == "ivfjit"
                  and r["index"] == index}
        return len(values) >= 3
    runs = sorted({r.get("run_id", "") for r in rows if r["workload"] == workload})
    runs = [run for run in runs if swept(run)]
    if not runs:
        return []
    return [r for r in rows
            if r.get("run_id", "") == runs[-1] and r["workload"] == workload
            and (r["index"] == index or r["impl"] in ("faiss-cpu", "hnswlib"))]


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def render(out, title, xlabel, logscale, key, series, labels=False):
    """One PNG: series = [(data file, title)], columns x y [label]."""
    plots = []
    for path, name in series:
        plots.append(f'"{path}" using 1:2 with linespoints lw 2 pt 7 title "{name}"')
        if labels:
            plots.append(f'"{path}" using 1:2:3 with labels offset 0,1 notitle')
    gnuplot(f"""
set terminal pngcairo noenhanced size 900,560 font "sans,11"
set output "{out}"
set title "{title}"
set xlabel "{xlabel}"
set ylabel "queries per second (log)"
set logscale {logscale}
set grid
set key {key}
plot """ + ", ".join(plots))


def series_file(tmp, name, points):
    path = os.path.join(tmp, name + ".dat")
    with open(path, "w") as f:
        for p in points:
            f.write(" ".join(str(v) for v in p) + "\n")
    return path


def default_tier(rows):
    """Keeps ivfjit's rows of the library's default kernel tier ("auto" where the run has it,
    else the eager "off" of runs from before the JIT was on by default) and everyone else's."""
    tiers = {r.get("jit", "off") for r in rows if r["impl"] == "ivfjit"}
    tier = "auto" if "auto" in tiers else "off"
    return [r for r in rows if r["impl"] != "ivfjit" or r.get("jit", "off") == tier]


def fmnist_figure(rows, out, tmp):
    rows = [r for r in default_tier(rows) if r["nq"] > 1]
    if not rows:
        return False
    plots = []
    for impl, title in [("ivfjit", "ivfjit (auto)"), ("faiss", "Faiss 1.7.3 (Debian)"),
                        ("faiss-cpu", "faiss-cpu wheel"), ("hnswlib", "hnswlib (label: ef)")]:
        pts = sorted((r["recall"], r["qps"],
                      r["mode"].split("=")[1] if impl == "hnswlib" else r["nprobe"])
                     for r in rows if r["impl"] == impl
                     and (impl != "ivfjit" or r["mode"].startswith("auto")))
        if pts:
            plots.append((series_file(tmp, "w1_" + impl.replace("-", "_"), pts), title))
    env = rows[0]
    render(out, f"Fashion-MNIST IVF-Flat, nlist {env['nlist']}, k {env['k']}, batch of "
                f"{env['nq']} queries, {env['threads']} threads (run {env.get('run_id', '?')})",
           f"recall at k = {env['k']}", "y", "bottom left", plots, labels=True)
    return True


def seed_figure(rows, out, tmp):
    if not rows:
        return False
    plots = []
    rows = [r for r in default_tier(rows) if r["impl"] != "hnswlib"]
    keys = sorted({(r["impl"], r["mode"].split(":")[0]) for r in rows})
    for impl, mode in keys:
        pts = sorted((r["nq"], r["qps"]) for r in rows
                     if r["impl"] == impl and r["mode"].split(":")[0] == mode)
        title = {"faiss": "Faiss 1.7.3 (Debian)", "faiss-cpu": "faiss-cpu wheel"}.get(
            impl, f"{impl} {mode}")
        plots.append((series_file(tmp, f"w2_{impl}_{mode}".replace("-", "_"), pts), title))
    env = rows[0]
    render(out, f"Gaussian d {env['d']}, nb {env['nb']}, nlist {env['nlist']}, nprobe "
                f"{env['nprobe']}, k {env['k']}, {env['threads']} threads "
                f"(run {env.get('run_id', '?')})",
           "queries per batch (log; 1 = single queries one at a time)", "xy", "top left", plots)
    return True


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "BUILD_WORKSPACE_DIRECTORY", os.getcwd())
    rows = load(root)
    docs = os.path.join(root, "docs")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, workload, key in [
                ("fig_fmnist_qps_recall.png", fmnist_figure, "fmnist", "nprobe"),
                ("fig_seed_qps_nq.png", seed_figure, "seed", "nq")]:
            out = os.path.join(docs, name)
            if make(latest_run(rows, workload, "IVFFlat", key), out, tmp):
                print("wrote", out)
            else:
                print("no", workload, "rows in benchmarks.jsonl; skipped", name, file=sys.stderr)


if __name__ == "__main__":
    main()

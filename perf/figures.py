#!/usr/bin/env python3
"""Renders the README figures from benchmarks/benchmarks.jsonl with gnuplot.

`bazel run //perf:figures` (or `python3 perf/figures.py [REPO_ROOT]`). For each figure it takes
the rows of the most recent sweep run (run_id) that swept that workload with ivfjit (a partial,
peers-only run is skipped), so a figure never mixes runs:
  docs/fig_fmnist_qps_recall.png  W1 Fashion-MNIST, IVF nprobe sweep: batch QPS vs recall@10
  docs/fig_seed_qps_nq.png        W2 the seed's shape: QPS vs nq, per implementation and mode
  docs/fig_grid_ratio.png         the grid (--workload=grid): ivfjit auto / faiss-cpu QPS per cell
`python3 perf/figures.py REPO_ROOT --grid-table` prints the grid's worst cells as Markdown.
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


def grid_cells(rows):
    """{(nb, d, nlist, nprobe, nq): {impl/mode: (qps, recall)}} of a grid run's rows (ivfjit
    by mode). Batches: the best timed run (the grid runs few, --repeat=3); single queries: the
    median latency of all of them. With --rounds, each library's best round of the cell: the
    rounds alternate which library goes first, and the host's noise only ever slows."""
    cells = {}
    for r in rows:
        if r.get("mode") in ("serve", "add") or r.get("selectivity", -1) >= 0:
            continue
        key = (r["nb"], r["d"], r["nlist"], r["nprobe"], r["nq"])
        name = r["impl"] if r["impl"] != "ivfjit" else "ivfjit:" + r["mode"].split(":")[0]
        qps = r["qps"]
        if r["nq"] > 1 and r.get("search_ms_min", 0) > 0:
            qps = r["nq"] / (r["search_ms_min"] / 1e3)
        best = cells.setdefault(key, {}).get(name)
        if best is None or qps > best[0]:
            cells[key][name] = (qps, r["recall"])
        if name == "ivfjit:auto" and ":" in r["mode"]:
            cells[key]["pick"] = r["mode"].split(":")[1]  # the mode auto resolved to
    return cells


def grid_figure(rows, out, tmp):
    cells = grid_cells(default_tier(rows))
    cols = sorted({(k[3], k[4]) for k in cells})          # (nprobe, nq)
    groups = sorted({(k[0], k[1], k[2]) for k in cells})  # (nb, d, nlist)
    if not cells or not any("faiss-cpu" in v for v in cells.values()):
        return False
    path = os.path.join(tmp, "grid.dat")
    with open(path, "w") as f:
        for y, g in enumerate(groups):
            for x, c in enumerate(cols):
                v = cells.get(g + c, {})
                if "ivfjit:auto" in v and "faiss-cpu" in v:
                    ratio = v["ivfjit:auto"][0] / v["faiss-cpu"][0]
                    f.write(f"{x} {y} {ratio:.3f} {ratio:.1f}\n")
    xt = ", ".join(f'"p{c[0]} q{c[1]}" {i}' for i, c in enumerate(cols))
    yt = ", ".join(f'"{g[0] // 1000}k d{g[1]} L{g[2]}" {i}' for i, g in enumerate(groups))
    run = rows[0].get("run_id", "?")
    gnuplot(f"""
set terminal pngcairo noenhanced size 1100,{200 + 34 * len(groups)} font "sans,9"
set output "{out}"
set title "ivfjit (auto) / faiss-cpu QPS per grid cell (log colour; labels: the ratio), run {run}"
set xlabel "nprobe (p), queries per call (q; 1 = single queries)"
set xtics ({xt}) rotate by 45 right
set ytics ({yt})
set logscale cb
set cbrange [0.25:16]
set palette defined (0 "red", 1 "white", 3 "blue")
set xrange [-0.5:{len(cols) - 0.5}]
set yrange [-0.5:{len(groups) - 0.5}]
plot "{path}" using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder fc palette notitle, \\
     "{path}" using 1:2:4 with labels notitle
""")
    return True


def grid_table(rows, worst=12):
    """Markdown: the cells where ivfjit gains least over faiss-cpu, and where auto is furthest
    from the better of matrix / csr."""
    cells = grid_cells(default_tier(rows))
    vs_peer, vs_mode, picks = [], [], []
    for k, v in cells.items():
        if "ivfjit:auto" not in v:
            continue
        auto = v["ivfjit:auto"][0]
        if "faiss-cpu" in v:
            vs_peer.append((auto / v["faiss-cpu"][0], k, v))
        best = max(v.get("ivfjit:matrix", (0,))[0], v.get("ivfjit:csr", (0,))[0])
        if best > 0:
            vs_mode.append((auto / best, k, v))
            # The pick: the resolved mode's own row against the best (auto's row runs the
            # same code as that row: their difference is the host's noise, not the choice).
            if "ivfjit:" + v.get("pick", "") in v:
                picks.append((v["ivfjit:" + v["pick"]][0] / best, k))
    out = ["| nb | d | nlist | nprobe | nq | recall | ivfjit auto QPS | faiss-cpu QPS | ratio |",
           "|---|---|---|---|---|---|---|---|---|"]
    for ratio, k, v in sorted(vs_peer)[:worst]:
        out.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {k[4]} | {v['ivfjit:auto'][1]:.3f} "
                   f"| {v['ivfjit:auto'][0]:,.0f} | {v['faiss-cpu'][0]:,.0f} | {ratio:.2f}× |")
    out += ["", "| nb | d | nlist | nprobe | nq | auto QPS | matrix | csr | auto / best "
            "| auto's pick |", "|---|---|---|---|---|---|---|---|---|---|"]
    for ratio, k, v in sorted(vs_mode)[:worst]:
        out.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {k[4]} | {v['ivfjit:auto'][0]:,.0f} "
                   f"| {v.get('ivfjit:matrix', (0,))[0]:,.0f} | {v.get('ivfjit:csr', (0,))[0]:,.0f}"
                   f" | {ratio:.2f} | {v.get('pick', '?')} |")
    if vs_peer:
        rounds = len({r.get("round", 0) for r in rows})
        out.append(f"\n{len(vs_peer)} cells ({rounds} round{'s' if rounds > 1 else ''}) vs "
                   f"faiss-cpu: worst {min(vs_peer)[0]:.2f}×, "
                   f"median {sorted(vs_peer)[len(vs_peer) // 2][0]:.2f}×; auto / best mode: "
                   f"worst {min(vs_mode)[0]:.2f} over {len(vs_mode)} cells.")
    if picks:
        slow = [p for p in picks if p[0] < 0.9]
        worst_pick = min(picks)
        out.append(f"Auto's pick (its resolved mode's own row) / best mode: worst "
                   f"{worst_pick[0]:.2f} (nb {worst_pick[1][0]}, d {worst_pick[1][1]}, nlist "
                   f"{worst_pick[1][2]}, nprobe {worst_pick[1][3]}, nq {worst_pick[1][4]}); "
                   f"{len(slow)} of {len(picks)} cells below 0.90.")
    return "\n".join(out)


def latest_grid_run(rows):
    runs = sorted({r.get("run_id", "") for r in rows if r["workload"] == "grid"})
    return [r for r in rows if runs and r.get("run_id") == runs[-1] and r["workload"] == "grid"]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = args[0] if args else os.environ.get(
        "BUILD_WORKSPACE_DIRECTORY", os.getcwd())
    rows = load(root)
    if "--grid-table" in sys.argv:
        print(grid_table(latest_grid_run(rows)))
        return
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
        out = os.path.join(docs, "fig_grid_ratio.png")
        if grid_figure(latest_grid_run(rows), out, tmp):
            print("wrote", out)


if __name__ == "__main__":
    main()

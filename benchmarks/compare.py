"""Side-by-side speed benchmark: specseg against scikit-learn's seed recipe.

Every case runs the baseline and specseg on the same input, each in a fresh
Python process (so peak memory is that run's own), and prints one markdown
table: case, pixels, baseline time, specseg time, ratio, quality, peak memory.
Library imports (scikit-learn's, and pyamg's and scikit-image's that specseg
makes lazily) happen before the clock starts, for both sides.

    python benchmarks/compare.py            # the full table (several minutes)
    python benchmarks/compare.py --quick    # small sizes only (a smoke run)
    python benchmarks/compare.py --scaling docs/scaling.png   # also the scaling plot
    python benchmarks/compare.py --repeat 3 --case "..."      # median of 3 runs per side

With ``--repeat``, the two sides take turns (specseg, sklearn, specseg, ...), so
that a change in the load of a shared machine reaches both.

The baseline is the seed document's recipe: ``img_to_graph`` + ``exp(-g/std)`` +
``sklearn.cluster.spectral_clustering`` (arpack, ``random_state=0``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _scenes import frame  # noqa: E402

# ---------------------------------------------------------------- cases
# name -> (kind, parameters). kind "segment": image -> labels end to end.
# kind "graph": both get the same affinity graph (the seed recipe on a frame).
CASES = {
    "seed 100² (masked, k=4)": ("circles", {"size": 100}),
    "circles 800² (masked, k=4)": ("circles", {"size": 800}),
    "circles 1600² (masked, k=4)": ("circles", {"size": 1600}),
    "frame 512², same graph, k=8": ("graph", {"size": 512}),
    "frame 1024², same graph, k=8": ("graph", {"size": 1024}),
    "coins 303×384, same graph, k=26": ("coins", {}),
    "frame 1024², segment, k=8": ("frame", {"size": 1024}),
    "frame 2048², segment mode=pixels, k=8": ("frame", {"size": 2048, "mode": "pixels"}),
    "frame 4096², segment, k=8": ("frame", {"size": 4096}),
    "volume 256³, segment, k=8": ("volume", {"size": 256}),
}
QUICK = ["seed 100² (masked, k=4)", "circles 800² (masked, k=4)", "frame 512², same graph, k=8"]
#: the seed recipe is not run above this many pixels (minutes and gigabytes)
BASELINE_MAX_PIXELS = 1_100_000
SCALING_SIZES = [256, 512, 1024, 2048, 4096]
SCALING_BASELINE_MAX = 1024


def seed_recipe_graph(image, mask=None):
    """The seed document's affinity: img_to_graph, then exp(-g / std)."""
    from sklearn.feature_extraction import image as sk_image

    graph = sk_image.img_to_graph(image, mask=mask)
    graph.data = np.exp(-graph.data / graph.data.std())
    return graph


def make_input(kind, params):
    """Return (image, mask, truth, k)."""
    if kind == "circles":
        from specseg.datasets import four_circles

        image, mask, truth = four_circles(params["size"], random_state=0)
        return image, mask, truth, 4
    if kind in ("graph", "frame"):
        image, truth = frame((params["size"],) * 2, n_regions=8, random_state=0)
        return image, None, truth, 8
    if kind == "volume":
        image, truth = frame((params["size"],) * 3, n_regions=8, random_state=0)
        return image, None, truth, 8
    if kind == "coins":
        from skimage import data

        return data.coins().astype(float), None, None, 26
    raise ValueError(kind)


def run_case(kind, params, method):
    """Run one case in this process and return a dict of measurements."""
    # every library either side imports lazily is imported before any clock starts
    import pyamg.aggregation  # noqa: F401 - specseg's multigrid
    import pyamg.strength  # noqa: F401
    import skimage.segmentation  # noqa: F401 - specseg's region mode
    import sklearn.feature_extraction.image  # noqa: F401 - the seed recipe's graph
    import threadpoolctl  # noqa: F401
    from sklearn.cluster import spectral_clustering

    import specseg

    image, mask, truth, k = make_input(kind, params)
    result = {"pixels": int(image.size if mask is None else mask.sum())}
    start = time.perf_counter()
    if kind in ("graph", "coins"):
        graph = seed_recipe_graph(image)
        t_graph = time.perf_counter()
        if method == "sklearn":
            labels = spectral_clustering(graph, n_clusters=k, random_state=0)
        else:
            labels = specseg.spectral_clustering(graph, k, random_state=0)
        result["seconds"] = time.perf_counter() - t_graph  # the clustering alone
        result["ncut"] = specseg.ncut_value(graph, labels)
        flat_labels = labels
    else:
        if method == "sklearn":
            graph = seed_recipe_graph(image, mask)
            node_labels = spectral_clustering(graph, n_clusters=k, random_state=0)
            labels = np.full(image.shape, -1)
            if mask is None:
                labels = node_labels.reshape(image.shape)
            else:
                labels[mask] = node_labels
        else:
            labels, info = specseg.segment(
                image, k, mask=mask, random_state=0, return_info=True,
                mode=params.get("mode", "auto"),
            )
            result["residual"] = max(info["residuals"])
            result["mode"] = info["mode"]
        result["seconds"] = time.perf_counter() - start
        flat_labels = labels[mask] if mask is not None else labels.ravel()
    if truth is not None:
        flat_truth = truth[mask] if mask is not None else truth.ravel()
        result["ari"] = specseg.metrics.adjusted_rand_score(flat_truth, flat_labels)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def spawn(kind, params, method, timeout):
    """Run one case in a fresh process; return its dict (or an error)."""
    command = [
        sys.executable, __file__, "--run-case", json.dumps([kind, params, method])
    ]
    try:
        out = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout > {timeout} s"}
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last[:80]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def quality(result):
    parts = []
    if "ari" in result:
        parts.append(f"ARI {result['ari']:.3f}")
    if "ncut" in result:
        parts.append(f"ncut {result['ncut']:.4g}")
    if "residual" in result:
        parts.append(f"resid {result['residual']:.1e}")
    if "mode" in result:
        parts.append(result["mode"])
    return ", ".join(parts) or "—"


def spawn_both(kind, params, timeout, repeat):
    """specseg and, where the image is small enough, sklearn, ``repeat`` times each,
    taking turns (so that both sides see the same changes in the load of a
    shared machine); returns the median run of each side."""
    ours = [spawn(kind, params, "specseg", timeout)]
    run_baseline = ours[0].get("pixels", 0) <= BASELINE_MAX_PIXELS
    base = []
    for i in range(max(1, repeat)):
        if run_baseline:
            base.append(spawn(kind, params, "sklearn", timeout))
        if i + 1 < repeat:
            ours.append(spawn(kind, params, "specseg", timeout))
    return median_run(ours), median_run(base) if base else {"error": "not run (too slow)"}


def median_run(runs):
    """The run with the median time (its quality and memory), with all times."""
    timed = sorted((r for r in runs if "seconds" in r), key=lambda r: r["seconds"])
    if not timed:
        return runs[0]
    median = dict(timed[(len(timed) - 1) // 2])
    if len(timed) > 1:
        median["all_seconds"] = [r["seconds"] for r in timed]
    return median


def table(names, timeout, repeat=1):
    rows = [
        "| case | pixels | sklearn | specseg | speed-up | sklearn quality | specseg quality "
        "| ncut ratio | peak MB (sklearn / specseg) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    spreads = []
    for name in names:
        kind, params = CASES[name]
        ours, base = spawn_both(kind, params, timeout, repeat)
        pixels = ours.get("pixels", base.get("pixels", "?"))
        t_base = f"{base['seconds']:.2f} s" if "seconds" in base else base["error"]
        t_ours = f"{ours['seconds']:.2f} s" if "seconds" in ours else ours["error"]
        ratio = (
            f"{base['seconds'] / ours['seconds']:.1f}x"
            if "seconds" in base and "seconds" in ours else "—"
        )
        ncut_ratio = (
            f"{ours['ncut'] / base['ncut']:.3f}" if "ncut" in ours and "ncut" in base else "—"
        )
        memory = " / ".join(
            f"{r['peak_mb']:.0f}" if "peak_mb" in r else "—" for r in (base, ours)
        )
        rows.append(
            f"| {name} | {pixels:,} | {t_base} | {t_ours} | {ratio} | {quality(base)} | "
            f"{quality(ours)} | {ncut_ratio} | {memory} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
        if repeat > 1:
            spread = {m: r.get("all_seconds") for m, r in (("sklearn", base), ("specseg", ours))}
            print(f"  {name}: seconds per run {spread}", file=sys.stderr, flush=True)
            for method, times in spread.items():
                if times:
                    spreads.append(f"- {name}, {method}: " + ", ".join(f"{t:.2f}" for t in times))
    if spreads:
        rows.append(f"\nEach side ran {repeat} times (fresh processes, the two sides taking "
                    "turns); the table shows the median run. All times, sorted:\n")
        rows.extend(spreads)
    return "\n".join(rows)


def scaling(path, timeout):
    """Time segment (specseg) and the seed recipe (sklearn) on frames of growing size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = {"specseg": [], "sklearn": []}
    for size in SCALING_SIZES:
        for method in ("specseg", "sklearn"):
            if method == "sklearn" and size > SCALING_BASELINE_MAX:
                continue
            result = spawn("frame", {"size": size}, method, timeout)
            if "seconds" in result:
                points[method].append((size * size, result["seconds"]))
                print(f"scaling {method} {size}²: {result['seconds']:.2f} s", file=sys.stderr)
    slope = np.polyfit(*np.log(np.array(points["specseg"])).T, 1)[0]
    fig, ax = plt.subplots(figsize=(5, 4))
    for method, marker in (("specseg", "o-"), ("sklearn", "s--")):
        if points[method]:
            xs, ys = np.array(points[method]).T
            ax.loglog(xs, ys, marker, label=method)
    ax.set_xlabel("pixels")
    ax.set_ylabel("seconds (segment, k=8)")
    ax.set_title(f"Time against image size (specseg slope {slope:.2f})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    rows = ["| pixels | specseg | sklearn |", "|---|---|---|"]
    base = dict(points["sklearn"])
    for pixels, seconds in points["specseg"]:
        b = f"{base[pixels]:.2f} s" if pixels in base else "—"
        rows.append(f"| {pixels:,} | {seconds:.2f} s | {b} |")
    rows.append(f"\nlog-log slope of specseg time against pixels: {slope:.2f}")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases only")
    parser.add_argument("--case", action="append", help="run only this case (repeatable)")
    parser.add_argument("--scaling", metavar="PNG", help="also measure scaling, plot to PNG")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each side this many times and report the median run")
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_case:
        kind, params, method = json.loads(args.run_case)
        print(json.dumps(run_case(kind, params, method)))
        return
    names = args.case or (QUICK if args.quick else list(CASES))
    import platform

    import sklearn

    import specseg

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}, specseg {specseg.__version__}, "
        f"scikit-learn {sklearn.__version__}\n"
    )
    print(table(names, args.timeout, args.repeat))
    if args.scaling:
        print()
        print(scaling(args.scaling, args.timeout))


if __name__ == "__main__":
    main()

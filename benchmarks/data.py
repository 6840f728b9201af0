"""Spectral clustering of data: specseg's SpectralClustering beside scikit-learn's.

Both sides cluster the same points with ``affinity="nearest_neighbors"``
(10 neighbours, scikit-learn's defaults otherwise: k-means assignment with
``n_init=10``, ``random_state=0``), each side in a fresh Python process. The
time is split as the estimators split the work: the graph (scikit-learn's
``kneighbors_graph(X, 10, include_self=True, n_jobs=-1)``, symmetrized, the same
code on both sides, as either estimator builds it with ``n_jobs=-1``) and the
solve after it (``fit`` on that graph with
``affinity="precomputed"``: the eigenproblem and the assignment). Quality is
the adjusted Rand index against the generating labels.

    python benchmarks/data.py                       # the full table (long)
    python benchmarks/data.py --quick               # small cases only
    python benchmarks/data.py --case "blobs 10-D 20k" --repeat 3
    python benchmarks/data.py --million             # specseg's solve of 1 M points
                                                    # (on an approximate 10-NN graph)
    python benchmarks/data.py --million --graph-cache /tmp/blobs1m.npz   # keep the graph

The million-point graph is pynndescent's (``pip install pynndescent``, or the
``bench`` extra) or, with ``--million-graph cells``, ``cell_knn_graph``; both
are approximate, and the share of true neighbours they find is measured. With
``--million-graph exact`` it is the exact 10-NN graph from SciPy's k-d tree on
every core (a few minutes on two cores).

With ``--repeat``, the two sides take turns (specseg, sklearn, specseg, ...);
the table shows each side's median run. scikit-learn's side is stopped after
``--baseline-timeout`` seconds (its shift-invert factorization of a k-NN graph
fills in, see BENCHMARKS.md) and is not started on sizes above a size it
already failed to finish.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

N_NEIGHBORS = 10

# name -> (generator, parameters)
CASES = {
    "digits (1,797 × 64, k=10)": ("digits", {}),
    "moons 10k (k=2)": ("moons", {"n": 10_000}),
    "circles 10k (k=2)": ("circles", {"n": 10_000}),
    "moons 20k (k=2)": ("moons", {"n": 20_000}),
    "circles 20k (k=2)": ("circles", {"n": 20_000}),
    "moons 50k (k=2)": ("moons", {"n": 50_000}),
    "circles 50k (k=2)": ("circles", {"n": 50_000}),
    "blobs 10-D 5k (k=10)": ("blobs", {"n": 5_000}),
    "blobs 10-D 10k (k=10)": ("blobs", {"n": 10_000}),
    "blobs 10-D 20k (k=10)": ("blobs", {"n": 20_000}),
    "blobs 10-D 50k (k=10)": ("blobs", {"n": 50_000}),
    "blobs 10-D 100k (k=10)": ("blobs", {"n": 100_000}),
    "blobs 10-D 200k (k=10)": ("blobs", {"n": 200_000}),
    "Gaussian mixture 100k × 64 (k=10)": ("gmm", {"n": 100_000}),
}
QUICK = ["digits (1,797 × 64, k=10)", "moons 10k (k=2)", "blobs 10-D 5k (k=10)"]
MILLION = ("blobs", {"n": 1_000_000})


def make_data(kind, params):
    """Return ``(X, labels, n_clusters)``; every set is seeded and its 10-NN graph
    is connected (so that the eigenproblem, not the components, decides)."""
    from sklearn import datasets

    if kind == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        return X.astype(np.float64), y, 10
    if kind == "moons":
        # the least noise at which the 10-NN graph of 10,000 points is connected
        X, y = datasets.make_moons(params["n"], noise=0.072, random_state=0)
        return X, y, 2
    if kind == "circles":
        X, y = datasets.make_circles(params["n"], noise=0.07, factor=0.4, random_state=0)
        return X, y, 2
    if kind == "blobs":
        # 10 centres in the default box (-10, 10)^10; a spread of 3 overlaps
        # them enough that the k-NN graph is connected
        X, y = datasets.make_blobs(params["n"], n_features=10, centers=10, cluster_std=3.0,
                                   random_state=0)
        return X, y, 10
    if kind == "gmm":
        # an embedding-like set: 10 Gaussian components in 64-D, unit spread,
        # centres drawn with spread 0.8 (about 9 apart), close enough that the
        # 10-NN graph is connected
        rng = np.random.default_rng(0)
        centres = rng.normal(scale=0.8, size=(10, 64))
        y = rng.integers(10, size=params["n"])
        return centres[y] + rng.standard_normal((params["n"], 64)), y, 10
    raise ValueError(kind)


def _peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak():
    """Start VmHWM from the current resident set (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def run_case(kind, params, method):
    """One side of one case in this process; returns a dict of measurements."""
    # what either side imports lazily is imported before the clock starts
    import pyamg.aggregation  # noqa: F401 - specseg's multigrid
    import sklearn.cluster
    from sklearn.metrics import adjusted_rand_score
    from sklearn.neighbors import kneighbors_graph

    import specseg

    estimator = (specseg.SpectralClustering if method == "specseg"
                 else sklearn.cluster.SpectralClustering)
    X, truth, k = make_data(kind, params)
    result = {"n": int(X.shape[0])}
    start = time.perf_counter()
    connectivity = kneighbors_graph(X, N_NEIGHBORS, include_self=True, n_jobs=-1)
    graph = 0.5 * (connectivity + connectivity.T)
    result["graph_s"] = time.perf_counter() - start
    del connectivity
    _reset_peak()
    start = time.perf_counter()
    labels = estimator(n_clusters=k, affinity="precomputed", random_state=0).fit(graph).labels_
    result["solve_s"] = time.perf_counter() - start
    result["solve_peak_mb"] = _peak_rss_mb()
    result["ari"] = float(adjusted_rand_score(truth, labels))
    result["seconds"] = result["graph_s"] + result["solve_s"]
    return result


def cell_knn_graph(X, n_neighbors, *, n_cells=256, n_near=3, seed=0):
    """An approximate k-NN connectivity graph (self included), symmetrized, for
    sizes where scikit-learn's exact search takes too long (1 M points in 10-D:
    over 25 min; 200 k took 231 s).

    The points are split into ``n_cells`` cells by k-means on a sample; each
    point's neighbours are the nearest among the points of its own cell and of
    the ``n_near`` cells with the nearest centres. Returns ``(graph, recall)``,
    with the recall of the true neighbours measured on 500 points.
    """
    from scipy import sparse
    from sklearn.cluster import KMeans
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    n = X.shape[0]
    sample = X[rng.choice(n, size=min(n, 50 * n_cells), replace=False)]
    kmeans = KMeans(n_cells, n_init=1, random_state=seed).fit(sample)
    cell = kmeans.predict(X)
    centres = kmeans.cluster_centers_
    near = np.argsort(((centres[:, None] - centres[None]) ** 2).sum(-1), axis=1)[:, :n_near + 1]
    members = [np.flatnonzero(cell == c) for c in range(n_cells)]
    neighbours = np.empty((n, n_neighbors), dtype=np.int64)
    for c in range(n_cells):
        candidates = np.concatenate([members[d] for d in near[c]])
        index = NearestNeighbors(n_neighbors=n_neighbors).fit(X[candidates])
        found = index.kneighbors(X[members[c]], return_distance=False)
        neighbours[members[c]] = candidates[found]
    rows = np.repeat(np.arange(n), n_neighbors)
    connectivity = sparse.csr_matrix((np.ones(rows.size), (rows, neighbours.ravel())),
                                     shape=(n, n))
    probe = rng.choice(n, size=500, replace=False)
    exact = NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors(
        X[probe], return_distance=False)
    recall = np.mean([np.isin(exact[i], neighbours[p]).mean() for i, p in enumerate(probe)])
    return 0.5 * (connectivity + connectivity.T), float(recall)


def nndescent_knn_indices(X, n_neighbors, *, seed=0):
    """pynndescent's approximate k nearest neighbours of every point, itself first."""
    try:
        import pynndescent
    except ImportError as exc:
        raise ImportError("the million-point graph needs pynndescent: pip install pynndescent "
                          "(or specseg[bench]), or pass --million-graph cells") from exc
    index = pynndescent.NNDescent(X, n_neighbors=n_neighbors, random_state=seed, n_jobs=-1)
    return index.neighbor_graph[0]


def exact_knn_indices(X, n_neighbors):
    """The exact k nearest neighbours of every point (itself first), by SciPy's
    k-d tree on every core."""
    from scipy.spatial import cKDTree

    return cKDTree(X).query(X, k=n_neighbors, workers=-1)[1]


def knn_recall(X, neighbours, *, n_probe=500, seed=0):
    """Share of the true neighbours found, by brute force on ``n_probe`` points."""
    from sklearn.neighbors import NearestNeighbors

    probe = np.random.default_rng(seed).choice(X.shape[0], size=n_probe, replace=False)
    exact = NearestNeighbors(n_neighbors=neighbours.shape[1], algorithm="brute").fit(X).kneighbors(
        X[probe], return_distance=False)
    return float(np.mean([np.isin(exact[i], neighbours[p]).mean() for i, p in enumerate(probe)]))


def graph_from_neighbours(neighbours):
    """The symmetrized connectivity graph of a ``(n, k)`` neighbour table, as
    ``0.5 * (C + C.T)`` of ``kneighbors_graph(..., include_self=True)``."""
    from scipy import sparse

    n, k = neighbours.shape
    rows = np.repeat(np.arange(n), k)
    connectivity = sparse.csr_matrix((np.ones(rows.size), (rows, neighbours.ravel())),
                                     shape=(n, n))
    return 0.5 * (connectivity + connectivity.T)


def million_graph(X, method, cache=None):
    """``(graph, info)`` for the million-point run: built by ``method``
    ("pynndescent", "cells" or "exact"), or read from ``cache`` (an .npz this function
    wrote, for the same data and method) and written there when missing."""
    if cache and os.path.exists(cache):
        saved = np.load(cache)
        if str(saved["method"]) != method or saved["neighbours"].shape[0] != X.shape[0]:
            raise ValueError(f"{cache} holds another graph ({saved['method']}); remove it")
        info = {"graph_s": float(saved["graph_s"]), "graph_recall": float(saved["recall"]),
                "graph_cached": True}
        return graph_from_neighbours(saved["neighbours"]), info
    start = time.perf_counter()
    if method == "cells":
        graph, recall = cell_knn_graph(X, N_NEIGHBORS)
        info = {"graph_s": time.perf_counter() - start, "graph_recall": recall}
        return graph, info
    if method == "exact":
        neighbours = exact_knn_indices(X, N_NEIGHBORS)
    else:
        neighbours = nndescent_knn_indices(X, N_NEIGHBORS)
    info = {"graph_s": time.perf_counter() - start,
            "graph_recall": knn_recall(X, neighbours)}
    if cache:
        np.savez(cache, neighbours=neighbours.astype(np.int32), method=method,
                 graph_s=info["graph_s"], recall=info["graph_recall"])
    return graph_from_neighbours(neighbours), info


def run_million(kind, params):
    """specseg's solve on an approximate k-NN graph of 1 M points (see
    ``million_graph``): time, peak memory and ARI of the solve."""
    import pyamg.aggregation  # noqa: F401
    from sklearn.metrics import adjusted_rand_score

    import specseg

    X, truth, k = make_data(kind, params)
    graph, info = million_graph(X, params.get("graph", "pynndescent"), params.get("cache"))
    result = {"n": int(X.shape[0]), "graph": params.get("graph", "pynndescent"), **info,
              "nnz": int(graph.nnz)}
    estimator = specseg.SpectralClustering(n_clusters=k, affinity="precomputed", random_state=0)
    _reset_peak()
    start = time.perf_counter()
    labels = estimator.fit(graph).labels_
    result["solve_s"] = time.perf_counter() - start
    result["solve_peak_mb"] = _peak_rss_mb()
    # the whole process (data, graph and solve; with --graph-cache no graph search)
    result["process_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["ari"] = float(adjusted_rand_score(truth, labels))
    return result


def spawn(kind, params, method, timeout):
    """Run one side of one case in a fresh process; return its dict (or an error)."""
    command = [sys.executable, __file__, "--run-case", json.dumps([kind, params, method])]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                             check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {timeout:.0f} s"}
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last[:80]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_run(runs):
    """The run with the median solve time, with every solve time."""
    timed = sorted((r for r in runs if "solve_s" in r), key=lambda r: r["solve_s"])
    if not timed:
        return runs[0] if runs else {"error": "not run"}
    median = dict(timed[(len(timed) - 1) // 2])
    median["all_solve_s"] = [r["solve_s"] for r in timed]
    return median


def table(names, *, timeout, baseline_timeout, repeat):
    rows = [
        "| data | points | graph (sklearn / specseg) | solve sklearn | solve specseg "
        "| solve speed-up | total speed-up | ARI sklearn | ARI specseg "
        "| solve peak MB (sklearn / specseg) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    spreads = []
    baseline_failed_at = None
    for name in names:
        kind, params = CASES[name]
        n = params.get("n", 0)
        skip_baseline = baseline_failed_at is not None and n > baseline_failed_at
        ours, base = [], []
        for _ in range(max(1, repeat)):
            ours.append(spawn(kind, params, "specseg", timeout))
            if not skip_baseline:
                base.append(spawn(kind, params, "sklearn", baseline_timeout))
                if "error" in base[-1]:
                    baseline_failed_at = n
                    skip_baseline = True
        ours = median_run(ours)
        base = median_run(base) if base else {
            "error": f"not run (stopped at {baseline_failed_at:,} points)"}
        rows.append(_row(name, ours, base))
        print(rows[-1], file=sys.stderr, flush=True)
        for method, r in (("sklearn", base), ("specseg", ours)):
            if r.get("all_solve_s"):
                spreads.append(f"- {name}, {method}: "
                               + ", ".join(f"{t:.2f}" for t in r["all_solve_s"]))
    rows.append(f"\nEach side ran {repeat} time(s) in fresh processes, the two sides taking "
                "turns; the table shows the median run. Solve times, sorted:\n")
    rows.extend(spreads)
    return "\n".join(rows)


def _fmt(result, key, unit=" s", digits=2):
    return f"{result[key]:.{digits}f}{unit}" if key in result else result.get("error", "—")


def _row(name, ours, base):
    n = ours.get("n", base.get("n", 0))
    graph = f"{_fmt(base, 'graph_s')} / {_fmt(ours, 'graph_s')}"
    ratio = total = "—"
    if "solve_s" in ours and "solve_s" in base:
        ratio = f"{base['solve_s'] / ours['solve_s']:.1f}x"
        total = f"{base['seconds'] / ours['seconds']:.1f}x"
    memory = f"{_fmt(base, 'solve_peak_mb', '', 0)} / {_fmt(ours, 'solve_peak_mb', '', 0)}"
    return (f"| {name} | {n:,} | {graph} | {_fmt(base, 'solve_s')} | {_fmt(ours, 'solve_s')} "
            f"| {ratio} | {total} | {_fmt(base, 'ari', '', 3)} | {_fmt(ours, 'ari', '', 3)} "
            f"| {memory} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases only")
    parser.add_argument("--case", action="append", help="run only this case (repeatable)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side (median shown)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per specseg run")
    parser.add_argument("--baseline-timeout", type=float, default=600,
                        help="seconds after which scikit-learn's run is stopped")
    parser.add_argument("--million", action="store_true",
                        help="specseg's solve on 1 M points (10-D blobs, k=10) only")
    parser.add_argument("--million-graph", choices=["pynndescent", "cells", "exact"],
                        default="pynndescent", help="the million-point run's k-NN graph")
    parser.add_argument("--graph-cache", metavar="NPZ",
                        help="read the million-point graph from this file, or save it there")
    parser.add_argument("--run-case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_case:
        kind, params, method = json.loads(args.run_case)
        run = run_million if method == "specseg-million" else run_case
        print(json.dumps(run(kind, params) if method == "specseg-million"
                         else run(kind, params, method)))
        return
    import sklearn

    import specseg

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python "
          f"{platform.python_version()}, specseg {specseg.__version__}, "
          f"scikit-learn {sklearn.__version__}\n")
    if args.million:
        kind, params = MILLION
        params = dict(params, graph=args.million_graph, cache=args.graph_cache)
        result = spawn(kind, params, "specseg-million", args.timeout)
        print(json.dumps(result))
        return
    names = args.case or (QUICK if args.quick else list(CASES))
    print(table(names, timeout=args.timeout, baseline_timeout=args.baseline_timeout,
                repeat=args.repeat))


if __name__ == "__main__":
    main()

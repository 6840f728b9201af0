"""Blockwise segmentation on a LocalCluster against in-memory ``segment``.

The scene is the Voronoi volume of the in-memory benchmarks (``_scenes.frame``:
8 cells of distinct grey levels, here with noise 0.1), made chunk by chunk so
that a 512³ volume never exists in one process, written as a float32 zarr
store with its ground truth beside it. Every case then runs in a fresh Python process:

- ``workers=0``: in-memory ``specseg.segment(volume, k)`` (region mode);
- ``workers=N``: ``specseg.distributed.segment`` on
  ``LocalCluster(n_workers=N, threads_per_worker=1, memory_limit=...)``, the
  labels written to zarr chunk by chunk.

Reported: wall time (the distributed figure includes writing the labels, not
starting the cluster) and, under each row, the load average before and after
the case and the seconds per stage (``info["timings"]``, then the relabelling,
the boundary pass and the writing of the labels together), the peak resident
memory of every worker (sampled every 0.2 s through ``Client.run``) and of
the client process (``ru_maxrss``; the LocalCluster's scheduler runs in it
too), worker restarts, and the ARI of the labels against the ground truth,
accumulated chunk by chunk.

    python benchmarks/distributed.py --sizes 128 256 --workers 0 1 2
    python benchmarks/distributed.py --sizes 512 --workers 2 --memory 2GiB
    python benchmarks/distributed.py --allocator      # the allocator inside a worker

``--scratch DIR`` keeps the generated stores (default: a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
# run as a script, this file's name would shadow the dask.distributed package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def make_scene(path, size, *, n_regions=8, noise=0.1, chunk=128, seed=0):
    """Write ``image`` (float32) and ``truth`` (uint8) zarr arrays of a Voronoi volume.

    The scene of ``_scenes.frame`` (the in-memory benchmarks' volume), made
    chunk by chunk: ``n_regions`` cells around random sites, grey levels spread
    evenly over [0, 1] in random order, Gaussian noise (seeded per chunk).
    """
    import dask.array as da

    rng = np.random.default_rng(seed)
    shape = (size,) * 3
    sites = np.stack([rng.integers(0, size, n_regions) for _ in shape], axis=1)
    levels = rng.permutation(np.linspace(0.0, 1.0, n_regions))

    def truth_block(block_info=None):
        location = block_info[None]["array-location"]
        z, y, x = [np.arange(a, b, dtype=np.float32) for a, b in location]
        best = np.full((z.size, y.size, x.size), np.inf, dtype=np.float32)
        truth = np.zeros(best.shape, dtype=np.uint8)
        for index, site in enumerate(sites):
            d2 = ((z - site[0])[:, None, None] ** 2 + (y - site[1])[None, :, None] ** 2
                  + (x - site[2])[None, None, :] ** 2)
            closer = d2 < best
            best[closer] = d2[closer]
            truth[closer] = index
        return truth

    def image_block(truth, block_info=None):
        location = block_info[None]["array-location"]
        noise_block = np.random.default_rng([seed, *[a for a, _ in location]]).standard_normal(
            truth.shape, dtype=np.float32)
        return (levels[truth] + noise * noise_block).astype(np.float32)

    chunks = da.core.normalize_chunks((chunk,) * 3, shape)
    truth = da.map_blocks(truth_block, dtype=np.uint8, chunks=chunks)
    image = da.map_blocks(image_block, truth, dtype=np.float32)
    da.to_zarr(truth, os.path.join(path, "truth.zarr"), overwrite=True)
    da.to_zarr(image, os.path.join(path, "image.zarr"), overwrite=True)


def chunked_ari(truth, labels):
    """Adjusted Rand index of two large label arrays from a contingency table built per chunk."""
    import dask.array as da

    truth = da.asarray(truth).astype(np.int64).ravel()
    labels = da.asarray(labels).astype(np.int64).ravel() + 1
    width = 1024
    table = da.bincount(truth * width + labels, minlength=0).compute()
    table = np.pad(table, (0, (-table.size) % width)).reshape(-1, width).astype(np.float64)

    def pairs(x):
        return (x * (x - 1) / 2).sum()

    n = table.sum()
    both = pairs(table)
    rows, cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2)
    return float((both - expected) / ((rows + cols) / 2 - expected))


_CHILD = r"""
import json, resource, sys, threading, time
sys.path.insert(0, SRC)
import numpy as np
args = json.loads(sys.argv[1])

def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

import zarr, dask.array as da
if args["workers"] == 0:
    import specseg
    image = zarr.open_array(args["image"], mode="r")[...]
    start = time.perf_counter()
    labels = specseg.segment(image, args["k"], mode="regions", random_state=0,
                             check_memory=False)
    seconds = time.perf_counter() - start
    out = zarr.open_array(args["labels"], mode="w", shape=labels.shape, dtype="int32",
                          chunks=(128, 128, 128))
    out[...] = labels
    print(json.dumps({"seconds": seconds, "client": peak_rss(), "workers": []}))
    sys.exit()

import psutil
from distributed import Client, LocalCluster
from specseg import distributed as dist

with LocalCluster(n_workers=args["workers"], threads_per_worker=1, processes=True,
                  memory_limit=args["memory"], dashboard_address=None) as cluster, \
        Client(cluster) as client:
    client.wait_for_workers(args["workers"])
    before = set(client.scheduler_info()["workers"])
    peaks, done = {}, threading.Event()

    def sample():
        while not done.is_set():
            try:
                rss = client.run(lambda: psutil.Process().memory_info().rss)
            except Exception:
                rss = {}
            for address, value in rss.items():
                peaks[address] = max(peaks.get(address, 0), value)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    labels, info = dist.segment(args["image"], args["k"], chunks=args["chunks"],
                                superpixel_method=args["method"], random_state=0,
                                return_info=True)
    partitioned = time.perf_counter() - start
    labels.to_zarr(args["labels"], overwrite=True)
    seconds = time.perf_counter() - start
    done.set(); sampler.join()
    after = set(client.scheduler_info()["workers"])
    print(json.dumps({"seconds": seconds, "graph_seconds": partitioned,
                      "client": peak_rss(), "workers": sorted(peaks.values()),
                      "restarted": len(before - after), "n_regions": info["n_regions"],
                      "n_edges": info["n_edges"],
                      "stages": {**info["timings"], "relabel, boundaries, write":
                                 seconds - partitioned}}))
"""


def run_case(scratch, size, workers, *, k, memory, chunks, method, scene=None):
    scene = scene or os.path.join(scratch, f"scene-{size}")
    tag = os.path.basename(scene).removeprefix("scene-")
    labels = os.path.join(scratch, f"labels-{tag}-{workers}-{method}-{chunks}.zarr")
    args = {"image": os.path.join(scene, "image.zarr"), "labels": labels,
            "workers": workers, "k": k, "memory": memory, "chunks": chunks, "method": method}
    child = _CHILD.replace("SRC", repr(str(SRC)))
    out = subprocess.run([sys.executable, "-c", child, json.dumps(args)], capture_output=True,
                         text=True, check=False)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    import zarr

    truth = zarr.open_array(os.path.join(scene, "truth.zarr"), mode="r")
    result["ari"] = chunked_ari(_dask_of(truth), _dask_of(zarr.open_array(labels, mode="r")))
    in_memory = os.path.join(scratch, f"labels-{tag}-0-slic-{chunks}.zarr")
    if workers and os.path.exists(in_memory):
        result["ari_in_memory"] = chunked_ari(_dask_of(zarr.open_array(in_memory, mode="r")),
                                              _dask_of(zarr.open_array(labels, mode="r")))
    return result


def _dask_of(array):
    import dask.array as da

    return da.from_zarr(array)


def partition_cost(side, k=8):
    """Time and peak memory of partitioning a region-graph-like graph of ``side³`` nodes.

    The global region graph is a 3-D adjacency graph with about 7 edges per
    node; the 18-neighbour grid graph of a noisy Voronoi volume (9 edges per
    node) stands in for it at sizes the blockwise runs here cannot reach.
    Runs in a fresh process; returns seconds and the peak RSS over the RSS
    after the graph was built.
    """
    child = r"""
import json, resource, sys, time
import numpy as np
import specseg
side, k = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
sites = rng.integers(0, side, (k, 3))
grid = np.indices((side,) * 3).reshape(3, -1).T
truth = np.argmin(((grid[:, None, :] - sites[None]) ** 2).sum(-1), axis=1).reshape((side,) * 3)
image = np.linspace(0, 1, k)[truth] + 0.1 * rng.standard_normal(truth.shape)
graph = specseg.pixel_graph(image, connectivity=2)
del grid, image
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with open("/proc/self/status") as f:
    base = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS"))
start = time.perf_counter()
labels = specseg.spectral_clustering(graph.affinity, k, random_state=0)
seconds = time.perf_counter() - start
print(json.dumps({"nodes": graph.n_nodes, "edges": int(graph.affinity.nnz // 2),
                  "seconds": seconds, "peak": rss() - base,
                  "ari": specseg.metrics.adjusted_rand_score(truth.ravel(), labels)}))
"""
    env = dict(os.environ, PYTHONPATH=str(SRC))
    out = subprocess.run([sys.executable, "-c", child, str(side), str(k)], capture_output=True,
                         text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def allocator_in_a_worker(memory="2GiB"):
    """RSS of a worker after an in-memory ``segment`` with the tuning off (default) and on."""
    from distributed import Client, LocalCluster

    def job():
        import psutil

        import specseg
        from specseg import _allocator
        from specseg.datasets import balls

        volume, _ = balls(96, n_balls=4, random_state=0)
        process = psutil.Process()
        before = process.memory_info().rss
        specseg.segment(volume, 5, mode="pixels", random_state=0)
        return {"keep_bytes": _allocator._keep_bytes(), "rss_before": before,
                "rss_after": process.memory_info().rss,
                "trim_env": os.environ.get("MALLOC_TRIM_THRESHOLD_")}

    results = {}
    for switch in ("auto", "on"):
        os.environ["SPECSEG_REUSE_FREED_MEMORY"] = switch
        with LocalCluster(n_workers=1, threads_per_worker=1, memory_limit=memory,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            results[switch] = client.submit(job, pure=False).result()
    os.environ.pop("SPECSEG_REUSE_FREED_MEMORY")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--memory", default="2GiB")
    parser.add_argument("--chunks", type=int, default=128)
    parser.add_argument("--method", default="slic", choices=["slic", "watershed"])
    parser.add_argument("-k", type=int, default=8)
    parser.add_argument("--noise", type=float, default=0.1,
                        help="standard deviation of the scene's noise (grey levels in [0, 1])")
    parser.add_argument("--scratch")
    parser.add_argument("--allocator", action="store_true")
    parser.add_argument("--partition", type=int, nargs="*",
                        help="sides of region-graph-like test graphs (side³ nodes) to "
                             "partition on the client, e.g. --partition 64 100")
    args = parser.parse_args()
    if args.partition:
        print("| nodes | edges | partition (s) | peak over the graph (GiB) | bytes per node |")
        print("|---|---|---|---|---|")
        for side in args.partition:
            r = partition_cost(side, k=args.k)
            print(f"| {r['nodes']:,} | {r['edges']:,} | {r['seconds']:.1f} | "
                  f"{r['peak'] / 2**30:.2f} | {r['peak'] / r['nodes']:.0f} |", flush=True)
        print(f"load {os.getloadavg()[0]:.2f} at end")
        return
    if args.allocator:
        print(json.dumps(allocator_in_a_worker(args.memory), indent=1))
        return
    scratch = args.scratch or tempfile.mkdtemp(prefix="specseg-bench-")
    load = os.getloadavg()[0]
    print(f"load {load:.2f} at start; scratch {scratch}")
    print("| volume | workers | time (s) | peak per worker (GiB) | client peak (GiB) | "
          "restarts | nodes | ARI vs truth | ARI vs in-memory |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        scene = os.path.join(scratch, f"scene-{size}" + (
            "" if args.noise == 0.1 else f"-noise{args.noise:g}"))
        if not os.path.exists(os.path.join(scene, "image.zarr")):
            make_scene(scene, size, n_regions=args.k, noise=args.noise)
        for workers in args.workers:
            load = os.getloadavg()[0]
            r = run_case(scratch, size, workers, k=args.k, memory=args.memory,
                         chunks=args.chunks, method=args.method, scene=scene)
            if "error" in r:
                print(f"| {size}³ | {workers or 'in-memory'} | failed: {r['error']} |")
                continue
            peak = ", ".join(f"{w / 2**30:.2f}" for w in r["workers"]) or "-"
            versus = f"{r['ari_in_memory']:.3f}" if "ari_in_memory" in r else "-"
            print(f"| {size}³ | {workers or 'in-memory'} | {r['seconds']:.1f} | {peak} | "
                  f"{r['client'] / 2**30:.2f} | {r.get('restarted', '-')} | "
                  f"{r.get('n_regions', '-')} | {r['ari']:.3f} | {versus} |", flush=True)
            stages = ", ".join(f"{name} {t:.1f}" for name, t in r.get("stages", {}).items())
            print(f"  load {load:.1f} -> {os.getloadavg()[0]:.1f}"
                  + (f"; seconds per stage: {stages}" if stages else ""), flush=True)
    print(f"load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()

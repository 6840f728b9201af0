"""Blockwise segmentation on a LocalCluster against in-memory ``segment``.

The scene is ``datasets.balls`` made chunk by chunk (so a 512³ volume never
exists in one process): ``n_balls`` ellipsoids of distinct grey levels over a
shaded background, Gaussian noise, written as a float32 zarr store with its
ground truth beside it. Every case then runs in a fresh Python process:

- ``workers=0``: in-memory ``specseg.segment(volume, k)`` (region mode);
- ``workers=N``: ``specseg.distributed.segment`` on
  ``LocalCluster(n_workers=N, threads_per_worker=1, memory_limit=...)``, the
  labels written to zarr chunk by chunk.

Reported: wall time (the distributed figure includes writing the labels, not
starting the cluster), the peak resident memory of every worker (sampled every
0.2 s through ``Client.run``) and of the client process (``ru_maxrss``; the
LocalCluster's scheduler runs in it too), worker restarts, and the ARI of the
labels against the ground truth, accumulated chunk by chunk.

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


def make_scene(path, size, *, n_balls=7, noise=0.1, shading=0.2, chunk=128, seed=0):
    """Write ``image`` (float32) and ``truth`` (uint8) zarr arrays of the balls scene."""
    import dask.array as da

    rng = np.random.default_rng(seed)
    shape = (size,) * 3
    scale = size / (1.6 * n_balls ** (1.0 / 3))
    balls = _layout(shape, n_balls, rng, min_radius=0.35 * scale, max_radius=0.7 * scale)
    levels = rng.permutation(np.linspace(0.0, 1.0, n_balls + 1))
    direction = rng.standard_normal(3)
    direction /= np.linalg.norm(direction)

    def truth_block(block_info=None):
        location = block_info[None]["array-location"]
        grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in location], indexing="ij"))
        truth = np.zeros(grid.shape[1:], dtype=np.uint8)
        for index, (centre, axes, rotation) in enumerate(balls, start=1):
            local = np.tensordot(rotation.T, grid - centre[:, None, None, None], 1)
            truth[((local / axes[:, None, None, None]) ** 2).sum(axis=0) <= 1.0] = index
        return truth

    def image_block(truth, block_info=None):
        location = block_info[None]["array-location"]
        block_seed = [seed, *[a for a, _ in location]]
        grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in location], indexing="ij"))
        ramp = np.tensordot(direction, grid / np.array(shape)[:, None, None, None], 1)
        noise_block = np.random.default_rng(block_seed).standard_normal(truth.shape)
        image = levels[truth] + shading * (ramp - 0.5) * (truth == 0) + noise * noise_block
        return image.astype(np.float32)

    chunks = (chunk,) * 3
    truth = da.map_blocks(truth_block, dtype=np.uint8, chunks=da.core.normalize_chunks(
        chunks, shape))
    image = da.map_blocks(image_block, truth, dtype=np.float32)
    da.to_zarr(truth, os.path.join(path, "truth.zarr"), overwrite=True)
    da.to_zarr(image, os.path.join(path, "image.zarr"), overwrite=True)


def _layout(shape, n_shapes, rng, *, min_radius, max_radius, margin=2):
    """The placement of ``datasets._layout`` as parameters: (centre, axes, rotation)."""
    ndim = len(shape)
    placed, out = [], []
    for radius in np.sort(rng.uniform(min_radius, max_radius, n_shapes))[::-1]:
        for _ in range(500):
            axes = radius * rng.uniform(0.6, 1.0, ndim)
            axes[0] = radius
            lo = radius + margin
            centre = np.array([rng.uniform(lo, s - 1 - lo) for s in shape])
            if all(np.linalg.norm(centre - c) > radius + r + margin for c, r in placed):
                break
            radius *= 0.97
        placed.append((centre, radius))
        q, r = np.linalg.qr(rng.standard_normal((ndim, ndim)))
        out.append((centre, axes, q * np.sign(np.diag(r))))
    return out


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
                      "n_edges": info["n_edges"]}))
"""


def run_case(scratch, size, workers, *, k, memory, chunks, method):
    labels = os.path.join(scratch, f"labels-{size}-{workers}-{method}.zarr")
    args = {"image": os.path.join(scratch, f"scene-{size}", "image.zarr"), "labels": labels,
            "workers": workers, "k": k, "memory": memory, "chunks": chunks, "method": method}
    child = _CHILD.replace("SRC", repr(str(SRC)))
    out = subprocess.run([sys.executable, "-c", child, json.dumps(args)], capture_output=True,
                         text=True, check=False)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    import zarr

    truth = zarr.open_array(os.path.join(scratch, f"scene-{size}", "truth.zarr"), mode="r")
    result["ari"] = chunked_ari(_dask_of(truth), _dask_of(zarr.open_array(labels, mode="r")))
    return result


def _dask_of(array):
    import dask.array as da

    return da.from_zarr(array)


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
    parser.add_argument("--scratch")
    parser.add_argument("--allocator", action="store_true")
    args = parser.parse_args()
    if args.allocator:
        print(json.dumps(allocator_in_a_worker(args.memory), indent=1))
        return
    scratch = args.scratch or tempfile.mkdtemp(prefix="specseg-bench-")
    load = os.getloadavg()[0]
    print(f"load {load:.2f} at start; scratch {scratch}")
    print("| volume | workers | time (s) | peak per worker (GiB) | client peak (GiB) | "
          "restarts | nodes | ARI vs truth |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        scene = os.path.join(scratch, f"scene-{size}")
        if not os.path.exists(os.path.join(scene, "image.zarr")):
            make_scene(scene, size, n_balls=args.k - 1)
        for workers in args.workers:
            r = run_case(scratch, size, workers, k=args.k, memory=args.memory,
                         chunks=args.chunks, method=args.method)
            if "error" in r:
                print(f"| {size}³ | {workers or 'in-memory'} | failed: {r['error']} |")
                continue
            peak = ", ".join(f"{w / 2**30:.2f}" for w in r["workers"]) or "-"
            print(f"| {size}³ | {workers or 'in-memory'} | {r['seconds']:.1f} | {peak} | "
                  f"{r['client'] / 2**30:.2f} | {r.get('restarted', '-')} | "
                  f"{r.get('n_regions', '-')} | {r['ari']:.3f} |", flush=True)
    print(f"load {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()

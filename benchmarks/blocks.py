"""Blockwise segmentation in blocks against one block and in memory, on noisy
and shaded volumes.

Every volume is ``specseg.datasets.balls(size, n_balls=..., noise=...,
random_state=seed)``: balls of distinct grey levels on a background with a
linear shading ramp of 0.2 (the generator's default) and Gaussian noise. Each
is segmented into its number of regions by ``specseg.distributed.segment`` on
Dask's local threads (2 workers), in blocks of the given sides, and by
in-memory ``specseg.segment``; the table gives the adjusted Rand index
against the truth and the seconds.

    python benchmarks/blocks.py --size 96 --blocks 48 96 --noise 0.2 0.3 --seeds 0 1 2
    python benchmarks/blocks.py --size 192 --blocks 96 192 --noise 0.2 0.3 --seeds 3 4 5 6 7 8
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def run(size, n_balls, noise, seed, blocks, in_memory):
    """ARI and seconds of each way of segmenting one volume."""
    import dask
    import dask.array as da

    import specseg
    from specseg import distributed
    from specseg.datasets import balls
    from specseg.metrics import adjusted_rand_score

    volume, truth = balls(size, n_balls=n_balls, noise=noise, random_state=seed)
    k = int(np.unique(truth).size)
    results = []
    with dask.config.set(scheduler="threads", num_workers=2), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for side in blocks:
            start = time.perf_counter()
            labels = distributed.segment(da.from_array(volume, chunks=side), k,
                                         random_state=0).compute()
            results.append((f"blocks of {side}", adjusted_rand_score(truth.ravel(),
                                                                     labels.ravel()),
                            time.perf_counter() - start))
        if in_memory:
            start = time.perf_counter()
            labels = specseg.segment(volume, k, random_state=0)
            results.append(("in memory", adjusted_rand_score(truth.ravel(), labels.ravel()),
                            time.perf_counter() - start))
    return k, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--balls", type=int, default=None,
                        help="balls per volume (default 4 up to 100³, 6 above)")
    parser.add_argument("--blocks", type=int, nargs="+", default=[48, 96])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.2, 0.3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-in-memory", action="store_true")
    args = parser.parse_args()
    n_balls = args.balls or (4 if args.size <= 100 else 6)
    header = None
    for noise in args.noise:
        for seed in args.seeds:
            k, results = run(args.size, n_balls, noise, seed, args.blocks,
                             not args.no_in_memory)
            if header is None:
                names = [name for name, _, _ in results]
                header = ("| noise | seed | segments | "
                          + " | ".join(f"{name}: ARI (s)" for name in names) + " |")
                print(header)
                print("|---" * (3 + len(names)) + "|")
            cells = " | ".join(f"{ari:.3f} ({seconds:.1f})" for _, ari, seconds in results)
            print(f"| {noise:g} | {seed} | {k} | {cells} |", flush=True)


if __name__ == "__main__":
    main()

"""Segmentation of shaded frames: the "shading" target of issue 11.

Every frame is ``specseg.datasets.shapes(size, n_shapes=7, noise=0.1,
shading=0.3, random_state=seed)``: 8 regions of distinct grey levels (steps
of 1/7), Gaussian noise 0.1 and a linear illumination ramp of 0.3 across the
background. Each frame is segmented with ``specseg.segment(image, 8)`` (the
defaults, ``mode="auto"``) and scored by the adjusted Rand index against the
truth. The target: mean ARI >= 0.95 and no frame below 0.90 at every size.

``--oracle`` also scores the superpixels of the region graph relabelled by
their majority truth label: the best any cut of that graph can do, which tells
superpixel errors from errors of the cut.

Run ``python benchmarks/shading.py --sizes 512 1024 4096 --seeds 20 --start 100``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score

import specseg
from specseg import datasets


def frame(size, seed):
    """The shaded frame of the target and its truth."""
    return datasets.shapes(size, n_shapes=7, noise=0.1, shading=0.3, random_state=seed)


def oracle_ari(image, truth):
    """ARI of the region graph's superpixels, each relabelled by its majority truth."""
    graph = specseg.region_graph(image)
    regions = graph.node_map.ravel()
    votes = np.zeros((graph.n_nodes, int(truth.max()) + 1))
    np.add.at(votes, (regions, truth.ravel()), 1)
    return adjusted_rand_score(truth.ravel(), votes.argmax(axis=1)[regions])


def peak_mb():
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_size(size, seeds, *, oracle, mode, verbose):
    """Score every seed at one size; returns a dict of the summary numbers."""
    scores, oracles, seconds = [], [], []
    for seed in seeds:
        image, truth = frame(size, seed)
        start = time.perf_counter()
        labels = specseg.segment(image, 8, mode=mode, random_state=0)
        seconds.append(time.perf_counter() - start)
        scores.append(adjusted_rand_score(truth.ravel(), labels.ravel()))
        line = f"  {size}² seed {seed}: ARI {scores[-1]:.3f}  {seconds[-1]:.2f} s"
        if oracle:
            oracles.append(oracle_ari(image, truth))
            line += f"  oracle {oracles[-1]:.3f}"
        if verbose:
            print(line, flush=True)
    summary = {
        "size": size,
        "frames": len(scores),
        "mean": float(np.mean(scores)),
        "min": float(np.min(scores)),
        "worst": int(seeds[int(np.argmin(scores))]),
        "seconds": float(np.mean(seconds)),
        "peak_mb": peak_mb(),
    }
    if oracle:
        summary["oracle"] = float(np.mean(oracles))
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--seeds", type=int, default=20, help="frames per size")
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--mode", default="auto", help="segment mode (default auto)")
    parser.add_argument("--oracle", action="store_true",
                        help="also score the majority-relabelled superpixels")
    parser.add_argument("--quiet", action="store_true", help="no per-frame lines")
    args = parser.parse_args(argv)
    seeds = list(range(args.start, args.start + args.seeds))
    print("| size | frames | mean ARI | min ARI (seed) | s / frame | peak MB |"
          + (" oracle ARI |" if args.oracle else ""))
    rows = []
    for size in args.sizes:
        row = run_size(size, seeds, oracle=args.oracle, mode=args.mode,
                       verbose=not args.quiet)
        rows.append(row)
        line = (f"| {size}² | {row['frames']} | {row['mean']:.3f} | {row['min']:.3f} "
                f"({row['worst']}) | {row['seconds']:.2f} | {row['peak_mb']:.0f} |")
        if args.oracle:
            line += f" {row['oracle']:.3f} |"
        print(line, flush=True)
    print(f"\nseeds {seeds[0]}..{seeds[-1]}, mode={args.mode!r}; peak MB is the process's "
          "running peak (ru_maxrss).", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()

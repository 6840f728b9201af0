"""Clean scenes with straight and curved edges: the region mode's segment count
and ARI on images a new user would try first.

Each scene is two or three flat regions (halves split across or down the
frame, a centred square, a disc, three stripes, a diagonal) plus Gaussian noise
of 0.05, at several sizes and three noise draws; volumes are a cube split at a
third of each axis. Every image is segmented with ``n_segments="auto"`` (is the
number of segments right?) and with the true number (ARI against the truth).

    python benchmarks/edges.py                 # frames and volumes, in memory
    python benchmarks/edges.py --blockwise     # volumes also by distributed.segment
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

SIZES_2D = (64, 100, 128, 200, 256)
SIZES_3D = (48, 64, 80)
NOISE = 0.05


def frames(n, seed):
    """``{name: (image, truth)}`` of the 2-D scenes of side ``n``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n]
    truths = {
        "halves": (yy >= n // 2).astype(int),
        "halves, a third": (xx >= n // 3).astype(int),
        "square": ((abs(yy - n / 2) < n / 5) & (abs(xx - n / 2) < n / 5)).astype(int),
        "disc": ((yy - n / 2) ** 2 + (xx - n / 2) ** 2 < (n / 4) ** 2).astype(int),
        "three stripes": xx * 3 // n,
        "diagonal": (yy > xx).astype(int),
    }
    return {name: (truth / truth.max() + rng.normal(0, NOISE, truth.shape), truth)
            for name, truth in truths.items()}


def volumes(n, seed):
    """``{name: (volume, truth)}``: a cube of side ``n`` split at a third of each
    axis (off the faces of blocks of half a side)."""
    out = {}
    for axis in range(3):
        truth = (np.indices((n, n, n))[axis] >= n // 3).astype(int)
        noise = np.random.default_rng(seed).normal(0, NOISE, truth.shape)
        out[f"a third, axis {axis}"] = (truth + noise, truth)
    return out


def run(scenes, segment):
    """``(wrong_k, aris, seconds)`` over ``scenes`` with ``segment(image, k)``."""
    from specseg.metrics import adjusted_rand_score

    wrong, aris, start = [], [], time.perf_counter()
    for name, (image, truth) in scenes:
        k = int(truth.max()) + 1
        found = int(segment(image, "auto").max()) + 1
        if found != k:
            wrong.append(f"{name}: {found}")
        aris.append(adjusted_rand_score(truth.ravel(), segment(image, k).ravel()))
    return wrong, np.array(aris), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="noise draws per scene")
    parser.add_argument("--blockwise", action="store_true",
                        help="also volumes by distributed.segment in blocks of half a side")
    args = parser.parse_args()

    import specseg

    def in_memory(image, k):
        return specseg.segment(image, k, random_state=0)

    cases = [("frames", [(f"{name} {n}² seed {s}", scene) for n in SIZES_2D
                         for s in range(args.seeds) for name, scene in frames(n, s).items()],
              in_memory),
             ("volumes", [(f"{name} {n}³ seed {s}", scene) for n in SIZES_3D
                          for s in range(args.seeds) for name, scene in volumes(n, s).items()],
              in_memory)]
    if args.blockwise:
        import dask
        import dask.array as da

        from specseg import distributed

        def blockwise(image, k):
            with dask.config.set(scheduler="threads", num_workers=2):
                array = da.from_array(image, chunks=image.shape[0] // 2)
                return distributed.segment(array, k, random_state=0).compute()

        cases.append(("volumes in blocks", cases[1][1], blockwise))
    print("| scenes | images | wrong k with \"auto\" | ARI with the true k: mean | lowest | "
          "seconds |")
    print("|---|---|---|---|---|---|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, scenes, segment in cases:
            wrong, aris, seconds = run(scenes, segment)
            print(f"| {label} | {len(scenes)} | {len(wrong)} | {aris.mean():.4f} | "
                  f"{aris.min():.4f} | {seconds:.0f} |")
            for line in wrong:
                print(f"  wrong k: {line}")


if __name__ == "__main__":
    main()

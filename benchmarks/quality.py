"""Segmentation quality on scenes with ground truth: specseg against two recipes.

Methods, side by side on the same images:

- ``seed``: the scikit-learn example (``img_to_graph``, ``exp(-g / g.std())``,
  ``sklearn.cluster.spectral_clustering`` with the true k); run only up to
  256 x 256 pixels (it takes minutes above, and scores near 0 on whole frames).
- ``skimage``: scikit-image's gallery recipe (SLIC with 400 segments and
  compactness 30 on the image scaled to 0..255, ``rag_mean_color`` in
  similarity mode, ``cut_normalized`` seeded with ``rng=0``), which chooses k
  itself.
- ``specseg-pixels``: ``segment(image, k, mode="pixels")`` (up to 256 x 256).
- ``specseg-regions``: ``segment(image, k, mode="regions")``.
- ``specseg``: ``segment(image, k)``, the defaults (mode "auto").
- ``specseg-auto-k``: ``segment(image, "auto")``, k from the eigengap.

Metrics: adjusted Rand index (ARI, higher is better), variation of information
(VI, nats, lower is better), boundary F1 with a 2-pixel tolerance (BF1), the
normalized cut of the labels on the default pixel graph of the image (ncut,
a common yardstick, lower is better), the number of segments found (k) and the
wall time. Each row is the mean over the draws (random seeds) listed.

Run ``python benchmarks/quality.py`` (about 3 minutes on 2 cores) or
``python benchmarks/quality.py --quick`` (about a minute); the table is printed.
A full run of every method also writes it to ``docs/quality-table.md``; a
``--quick`` run or a subset of ``--methods`` writes a file only where
``--output`` names one, so that it never replaces the full table.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import specseg
from specseg import datasets
from specseg.metrics import (
    adjusted_rand_score,
    boundary_f1,
    ncut_value,
    variation_of_information,
)

SEED_MAX_PIXELS = 256 * 256
PIXELS_MAX_PIXELS = 256 * 256


def seed_recipe(image, k, mask=None, colour=False):
    from sklearn.cluster import spectral_clustering
    from sklearn.feature_extraction import image as skimage_graph

    if colour or image.ndim == 3 and not colour and image.shape[-1] == 3:
        image = image.mean(axis=-1)
    graph = skimage_graph.img_to_graph(image, mask=mask)
    graph.data = np.exp(-graph.data / graph.data.std())
    labels = spectral_clustering(graph, n_clusters=k, eigen_solver="arpack", random_state=0)
    out = np.full(image.shape, -1)
    if mask is None:
        out[...] = labels.reshape(image.shape)
    else:
        out[mask] = labels
    return out


def skimage_recipe(image, k, mask=None, colour=False):
    from skimage import graph, segmentation

    low, high = image.min(), image.max()
    scaled = (image - low) / (high - low if high > low else 1.0) * 255.0
    labels = segmentation.slic(
        scaled, compactness=30, n_segments=400, start_label=1,
        channel_axis=-1 if colour else None,
    )
    rag = graph.rag_mean_color(scaled if colour else scaled[..., None], labels,
                               mode="similarity")
    # seeded: cut_normalized draws random vectors, so unseeded runs differ
    return graph.cut_normalized(labels, rag, rng=0)


def specseg_method(mode=None, auto_k=False):
    def run(image, k, mask=None, colour=False):
        kwargs = {"channel_axis": -1 if colour else None, "mask": mask}
        if mode is not None:
            kwargs["mode"] = mode
        return specseg.segment(image, "auto" if auto_k else k, **kwargs)

    return run


METHODS = {
    "seed": seed_recipe,
    "skimage": skimage_recipe,
    "specseg-pixels": specseg_method("pixels"),
    "specseg-regions": specseg_method("regions"),
    "specseg": specseg_method(),
    "specseg-auto-k": specseg_method(auto_k=True),
}


def scenes(quick):
    """Yield ``(scene, size, noise, draws, make)``; make(seed): image, truth, mask, colour."""

    def shapes(size, noise):
        return lambda seed: (*datasets.shapes(size, noise=noise, random_state=seed), None, False)

    def hue(size, noise):
        return lambda seed: (*datasets.hue_regions(size, noise=noise, random_state=seed), None,
                             True)

    def balls(size, noise):
        return lambda seed: (*datasets.balls(size, noise=noise, random_state=seed), None, False)

    def textured(size, noise):
        return lambda seed: (*datasets.textured_regions(size, noise=noise, random_state=seed),
                             None, False)

    def circles(size, noise):
        def make(seed):
            image, mask, truth = datasets.four_circles(size, noise=noise, random_state=seed)
            return image, truth, mask, False

        return make

    if quick:
        yield "shapes", "256²", 0.05, 2, shapes(256, 0.05)
        yield "shapes", "256²", 0.1, 2, shapes(256, 0.1)
        yield "shapes", "512²", 0.1, 1, shapes(512, 0.1)
        yield "hue", "256²", 0.05, 2, hue(256, 0.05)
        yield "balls", "48³", 0.1, 1, balls(48, 0.1)
        yield "circles (mask)", "100²", 0.2, 2, circles(100, 0.2)
        return
    for noise in (0.05, 0.1, 0.2):
        yield "shapes", "256²", noise, 4, shapes(256, noise)
    for noise in (0.05, 0.1, 0.25):
        yield "shapes", "512²", noise, 2, shapes(512, noise)
    yield "shapes", "1024²", 0.1, 1, shapes(1024, 0.1)
    yield "hue", "256²", 0.05, 3, hue(256, 0.05)
    yield "hue", "512²", 0.1, 2, hue(512, 0.1)
    yield "balls", "64³", 0.1, 3, balls(64, 0.1)
    yield "balls", "128³", 0.1, 1, balls(128, 0.1)
    yield "textured", "256²", 0.1, 2, textured(256, 0.1)
    yield "circles (mask)", "100²", 0.2, 6, circles(100, 0.2)


def evaluate(method, image, truth, mask, colour, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        labels = METHODS[method](image, k, mask=mask, colour=colour)
        elapsed = time.perf_counter() - start
    inside = np.ones(truth.shape, bool) if mask is None else mask
    t, p = truth[inside], labels[inside]
    graph = specseg.pixel_graph(image, mask=mask, channel_axis=-1 if colour else None)
    node_labels = labels.ravel() if mask is None else labels[mask]
    return {
        "ARI": adjusted_rand_score(t, p),
        "VI": variation_of_information(t, p),
        "BF1": boundary_f1(np.where(inside, truth, -1), np.where(inside, labels, -1),
                           tolerance=2),
        "ncut": ncut_value(graph.affinity, node_labels),
        "k": len(np.unique(p)),
        "time": elapsed,
    }


def applicable(method, image, mask, colour):
    n_pixels = int(np.prod(image.shape[:2] if colour else image.shape))
    if method == "seed":
        return n_pixels <= SEED_MAX_PIXELS and image.ndim - colour == 2
    if method == "specseg-pixels":
        return n_pixels <= PIXELS_MAX_PIXELS
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller variant (~1 minute)")
    parser.add_argument("--output", default=None,
                        help="also write the table here (default: docs/quality-table.md "
                             "for a full run of every method, no file otherwise)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (default 1: oversubscribed BLAS threads on a shared "
                             "machine slow small dense eigenproblems by 10-100x)")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        return _run(args)


def _run(args):
    methods = args.methods.split(",")
    header = ("| scene | size | noise | true k | method | k | ARI | VI | BF1 | ncut | time (s) |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|")
    print(header, flush=True)
    rows = [header]
    for scene, size, noise, draws, make in scenes(args.quick):
        results = {m: [] for m in methods}
        true_k = None
        for seed in range(draws):
            image, truth, mask, colour = make(seed)
            inside = truth if mask is None else truth[mask]
            true_k = len(np.unique(inside))
            for method in methods:
                if applicable(method, image, mask, colour):
                    results[method].append(evaluate(method, image, truth, mask, colour, true_k))
        for method in methods:
            runs = results[method]
            if not runs:
                continue
            mean = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
            row = (f"| {scene} | {size} | {noise:g} | {true_k} | {method} | {mean['k']:.1f} | "
                   f"{mean['ARI']:.3f} | {mean['VI']:.3f} | {mean['BF1']:.3f} | "
                   f"{mean['ncut']:.3f} | {mean['time']:.2f} |")
            print(row, flush=True)
            rows.append(row)
    note = (f"\nMeans over draws; {'quick' if args.quick else 'full'} run on "
            f"{platform.machine()} with {platform.python_implementation()} "
            f"{platform.python_version()}, specseg {specseg.__version__}. "
            f"{args.threads} BLAS thread(s). Command: `python benchmarks/quality.py"
            + (" --quick" if args.quick else "")
            + ("" if methods == list(METHODS) else f" --methods {args.methods}") + "`.\n")
    print(note)
    if args.output is None:
        if args.quick or methods != list(METHODS):
            print("(a partial run: no file written; --output FILE writes one)")
            return 0
        args.output = Path(__file__).resolve().parents[1] / "docs" / "quality-table.md"
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(rows) + "\n" + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())

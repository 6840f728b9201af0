"""Fit specseg's boundary detector on the BSDS500 *train* split.

Writes ``src/specseg/data/contours.npz``: the texton centres (k-means of the
filter-bank responses) and the weights of a small neural network that maps the
local cues of :mod:`specseg._features` to the probability that a pixel lies on
a boundary a person would draw. Only the train split is used; val stays for
measuring, test is held back.

The target of a pixel is the fraction of the people who drew a boundary within
one pixel of it, so the output is calibrated as "the share of people who would
put a boundary here". A quarter of the photographs are turned grey (the same
photograph, ``a* = b* = 0``), so the detector also serves grey images.

Usage::

    python benchmarks/train_contours.py --root ../shared/bsds500 [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import scipy.io
from scipy import ndimage

from specseg import _features

N_TEXTONS = 32
TEXTON_IMAGES = 60
TEXTON_SAMPLES = 3000
SAMPLES_PER_IMAGE = 4000
GREY_FRACTION = 0.25
HIDDEN = (32, 16)
OUT = Path(__file__).resolve().parents[1] / "src" / "specseg" / "data" / "contours.npz"


def read_image(path):
    import imageio.v3 as iio

    return iio.imread(path).astype(np.float64)


def read_truths(path):
    cells = scipy.io.loadmat(path)["groundTruth"]
    return [cells[0, i]["Boundaries"][0, 0].astype(bool) for i in range(cells.shape[1])]


def boundary_share(truths, tolerance=1):
    """Fraction of people with a boundary within ``tolerance`` pixels of each pixel."""
    footprint = np.ones((2 * tolerance + 1,) * 2, dtype=bool)
    near = [ndimage.binary_dilation(t, footprint) for t in truths]
    return np.mean(near, axis=0)


def fit_textons(paths, rng):
    from sklearn.cluster import KMeans

    samples = []
    for path in rng.choice(paths, size=min(TEXTON_IMAGES, len(paths)), replace=False):
        L, _, _ = _features.lab_channels(read_image(path))
        responses = _features.filter_bank(L).reshape(-1, len(_features.BANK_SIGMAS) * 6)
        samples.append(responses[rng.choice(len(responses), TEXTON_SAMPLES, replace=False)])
    samples = np.concatenate(samples)
    km = KMeans(N_TEXTONS, n_init=3, random_state=0).fit(samples)
    # Sort the centres so the file does not depend on k-means' arbitrary order.
    order = np.lexsort(km.cluster_centers_.T[::-1])
    return km.cluster_centers_[order].astype(np.float32)


def image_samples(path, truth_path, centres, rng, grey):
    image = read_image(path)
    if grey:
        image = image.mean(axis=-1, keepdims=True)
    features, _ = _features.cue_features(image, centres)
    share = boundary_share(read_truths(truth_path))
    flat = features.reshape(-1, features.shape[-1])
    target = share.ravel()
    on = np.flatnonzero(target > 0)
    half = SAMPLES_PER_IMAGE // 2
    picks = np.concatenate([
        rng.choice(on, size=min(half, len(on)), replace=False),
        rng.choice(len(target), size=half, replace=False),
    ])
    return flat[picks], target[picks]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder for the sampled features (reused when present)")
    parser.add_argument("--limit", type=int, default=None, help="use only N train images")
    parser.add_argument("--output", type=Path, default=OUT)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    paths = sorted((args.root / "images" / "train").glob("*.jpg"))[: args.limit]
    t0 = time.perf_counter()
    cache = args.cache / "samples.npz" if args.cache else None
    if cache is not None and cache.exists():
        data = np.load(cache)
        centres, X, y = data["centres"], data["X"], data["y"]
    else:
        centres = fit_textons(paths, rng)
        print(f"textons: {time.perf_counter() - t0:.1f} s", flush=True)
        X, y = [], []
        for i, path in enumerate(paths):
            truth = args.root / "groundTruth" / "train" / (path.stem + ".mat")
            grey = rng.random() < GREY_FRACTION
            xi, yi = image_samples(path, truth, centres, rng, grey)
            X.append(xi)
            y.append(yi)
            if i % 20 == 0:
                print(f"{i}/{len(paths)} images, {time.perf_counter() - t0:.0f} s", flush=True)
        X, y = np.concatenate(X), np.concatenate(y)
        if cache is not None:
            os.makedirs(args.cache, exist_ok=True)
            np.savez(cache, centres=centres, X=X, y=y)
    model = fit_model(X, y)
    np.savez(args.output, centres=centres, **model)
    print(f"wrote {args.output} in {time.perf_counter() - t0:.0f} s")


def fit_model(X, y, *, hidden=HIDDEN, alpha=1e-4, batch_size=512, max_iter=30):
    """A small MLP on standardised features, its soft targets as weighted 0/1 samples.

    Returns plain arrays (``mean``, ``scale``, ``w0``, ``b0``, ...) that
    :func:`specseg._contours._network` evaluates.
    """
    from sklearn.neural_network import MLPClassifier

    mean = X.mean(axis=0)
    scale = X.std(axis=0) + 1e-6
    Z = (X - mean) / scale
    Z2 = np.concatenate([Z, Z])
    labels = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
    weights = np.concatenate([y, 1.0 - y])
    keep = weights > 0
    mlp = MLPClassifier(hidden, alpha=alpha, batch_size=batch_size, max_iter=max_iter,
                        early_stopping=False, random_state=0)
    mlp.fit(Z2[keep], labels[keep], sample_weight=weights[keep])
    print(f"MLP: {mlp.n_iter_} epochs, loss {mlp.loss_:.4f}")
    out = {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32)}
    for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        out[f"w{i}"] = w.astype(np.float32)
        out[f"b{i}"] = b.astype(np.float32)
    return out


if __name__ == "__main__":
    main()

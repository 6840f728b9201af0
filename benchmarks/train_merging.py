"""Fit specseg's region-merging network on the BSDS500 *train* split.

Writes ``src/specseg/data/merging.npz``: the weights of a small network that
maps the features of two adjacent regions (:func:`specseg._merging.pair_features`)
to the probability that a person draws a boundary between them. Only the train
split is used; val stays for measuring, test is held back.

Samples: every train photograph's contour hierarchy (OWT-UCM, the first stage of
:func:`specseg.hierarchy`) is cut at the thresholds ``LEVELS``; every pair of
adjacent regions at every level is one sample. Its target is the fraction of
the people whose segmentations put the two regions' majorities in different
segments. As in ``train_contours.py``, a quarter of the photographs are turned
grey, so the network also serves grey images.

Usage::

    python benchmarks/train_merging.py --root ../shared/bsds500 [--jobs 2] [--cache DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_contours  # noqa: E402
from bsds import read_ground_truths, read_image  # noqa: E402

from specseg import _merging  # noqa: E402
from specseg._contours import texton_centres  # noqa: E402
from specseg._hierarchy import _contour_hierarchy, merged_hierarchy  # noqa: E402
from specseg._merging import boundary_probability  # noqa: E402
from specseg._validation import check_image, check_random_state  # noqa: E402

#: Cuts of the contour hierarchy that give the training pairs.
LEVELS = (0.04, 0.08, 0.12, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5)
#: Round 2: cuts of the hierarchy merged by the round-1 network.
MERGED_LEVELS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
GREY_FRACTION = 0.25
#: Round 1 samples the contour hierarchy; every further round, the hierarchy
#: merged by the previous round's network.
ROUNDS = 2
HIDDEN = (16,)
OUT = Path(__file__).resolve().parents[1] / "src" / "specseg" / "data" / "merging.npz"


def pair_targets(regions, truths, first, second):
    """Fraction of the segmentations in which the two regions' majorities differ."""
    n = int(regions.max()) + 1
    inside = regions >= 0
    differ = np.zeros(first.size)
    for truth in truths:
        truth = truth.astype(np.int64) - truth.min()
        n_truth = int(truth.max()) + 1
        counts = np.bincount(regions[inside] * n_truth + truth[inside],
                             minlength=n * n_truth).reshape(n, n_truth)
        majority = counts.argmax(axis=1)
        differ += majority[first] != majority[second]
    return differ / len(truths)


def image_samples(root, image_id, grey, model=None):
    """Pair features and targets of one train photograph at every level.

    Without ``model``, the levels are the contour hierarchy's cuts at
    ``LEVELS``; with a model (round 2), the cuts at ``MERGED_LEVELS`` of the
    hierarchy that this model's merging makes, whose large regions the
    contour levels rarely reach.
    """
    image = read_image(root, "train", image_id).astype(np.float64)
    if grey:
        image = image.mean(axis=-1, keepdims=True)
    image = check_image(image, channel_axis=-1)
    contour, strength, maps = _contour_hierarchy(
        image, mask=None, globalization=True, random_state=check_random_state(None),
        timings={})
    truths = read_ground_truths(root, "train", image_id)
    n_textons = len(texton_centres())
    X, y = [], []
    source, levels = contour, LEVELS
    if model is not None:
        source = merged_hierarchy(contour, strength, maps,
                                  predict=lambda rows: boundary_probability(rows, model))
        levels = MERGED_LEVELS
    for threshold in levels:
        regions = source.cut(threshold=threshold)
        if regions.max() < 1:
            break
        size, histograms, colour = _merging.region_statistics(regions, maps, n_textons)
        first, second, sums = _merging.pair_sums(regions, strength, contour._pair_heights)
        X.append(_merging.pair_features(first, second, sums, size, histograms, colour))
        y.append(pair_targets(regions, truths, first, second))
    return np.concatenate(X), np.concatenate(y)


def _one(job):
    os.environ["SPECSEG_NUM_THREADS"] = "1"
    return image_samples(*job)


def fit_model(X, y):
    """The network of ``train_contours.fit_model``, smaller, with more epochs."""
    return train_contours.fit_model(X, y, hidden=HIDDEN, alpha=1e-3, batch_size=256,
                                    max_iter=200)


def sample(jobs, args, name, t0):
    """The pairs of all ``jobs``, from ``args.cache / name`` when present."""
    cache = args.cache / name if args.cache else None
    if cache is not None and cache.exists():
        with np.load(cache) as data:
            return data["X"], data["y"]
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            samples = pool.map(_one, jobs)
    else:
        samples = [_one(job) for job in jobs]
    X = np.concatenate([s[0] for s in samples])
    y = np.concatenate([s[1] for s in samples])
    print(f"{len(y)} pairs from {len(jobs)} images in {time.perf_counter() - t0:.0f} s",
          flush=True)
    if cache is not None:
        os.makedirs(args.cache, exist_ok=True)
        np.savez(cache, X=X, y=y)
    return X, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder for the sampled pairs (reused when present)")
    parser.add_argument("--limit", type=int, default=None, help="use only N train images")
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help=f"sampling rounds (default {ROUNDS})")
    parser.add_argument("--output", type=Path, default=OUT)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    ids = sorted(p.stem for p in (args.root / "images" / "train").glob("*.jpg"))[: args.limit]
    jobs = [(args.root, i, bool(rng.random() < GREY_FRACTION)) for i in ids]
    X, y = sample(jobs, args, "merging_samples.npz", t0)
    model = fit_model(X, y)
    for round_ in range(2, args.rounds + 1):
        # the pairs of the large regions that the last model's own merging makes
        Xr, yr = sample([job + (model,) for job in jobs], args,
                        f"merging_samples_{round_}.npz", t0)
        X, y = np.concatenate([X, Xr]), np.concatenate([y, yr])
        model = fit_model(X, y)
    np.savez(args.output, **model)
    print(f"wrote {args.output} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

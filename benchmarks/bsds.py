"""The BSDS500 region benchmark: segmentation covering, PRI and VI, ODS and OIS.

Usage::

    python benchmarks/bsds.py --root ../shared/bsds500 --split val --jobs 2
    python benchmarks/bsds.py --root DIR --methods gpb-owt-ucm felzenszwalb --limit 10

``--root`` is a folder in the data set's layout (``images/<split>/<id>.jpg``,
``groundTruth/<split>/<id>.mat`` and, for gPb-owt-ucm, ``ucm2/<split>/<id>.mat``).
The table printed is the region benchmark of the data set's own bench code
(``evaluation_reg_image.m`` and ``collect_eval_reg.m`` of BSDS500); the metrics
themselves are :func:`specseg.metrics.region_benchmark`. Each method gives every
image a list of segmentations, one per scale, the same scales for every image:

- covering ODS: the sum over images of the weighted best overlaps divided by
  the sum of the weights, at the one scale that maximises it; OIS: the same
  sums with every image at its own best scale;
- PRI (VI) ODS: the best mean over images at one scale; OIS: the mean over
  images of each image's best.

Methods (``--methods``; by default all that can run):

- ``gpb-owt-ucm``: the data set's ``ucm2`` files, cut at 99 thresholds
  0.01..0.99 (the 8-connected components of ``ucm2 <= t`` at the pixel sites,
  as MATLAB's ``bwlabel`` and the bench code do);
- ``felzenszwalb``: ``skimage.segmentation.felzenszwalb`` (sigma 0.8, min_size
  20) at 11 scales log-spaced from 50 to 5000;
- ``slic-ncut``: scikit-image's recipe, SLIC (400 segments, compactness 30) then
  ``rag_mean_color`` (similarity) and ``cut_normalized`` (``rng=0``) at the
  thresholds ``SLIC_NCUT_THRESHOLDS``;
- ``specseg-k``: ``specseg.segment(image, k, channel_axis=-1)`` for k in
  ``SPECSEG_KS``; ``specseg-auto``: ``segment(image, "auto", channel_axis=-1)``;
- ``specseg-hierarchy``: ``specseg.hierarchy(image, channel_axis=-1).cut(threshold=t)``
  at the 99 thresholds (only where ``specseg.hierarchy`` exists);
  ``specseg-contour-ucm``: the same with ``merging=False``, the contour hierarchy
  alone (no learned region merging).

From Python (from the repository root)::

    from benchmarks.bsds import evaluate, evaluate_ucm
    row, per_image = evaluate(lambda image: [my_segment(image, k) for k in (2, 4, 8)],
                              "../shared/bsds500", "val", jobs=2)
    row, per_image = evaluate_ucm(lambda image: my_hierarchy(image), "../shared/bsds500")

``row`` holds the table's figures; ``per_image`` the per-image, per-scale
counts, from which :func:`aggregate` recomputes a row (for a subset of scales,
say). Seconds per image are the method's own wall time (segmentation, or the
hierarchy and its cuts), not the scoring; with ``--jobs 2`` two images run at
once, each method with one thread.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

from specseg.metrics import _codes, _contingency, _GroundTruths

THRESHOLDS = np.linspace(0.01, 0.99, 99)
FELZENSZWALB_SCALES = np.geomspace(50, 5000, 11)
SPECSEG_KS = (2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32)
SLIC_NCUT_THRESHOLDS = (1e-5, 1e-4, 1e-3)  # about 10, 20 and 40 segments
METHODS = (
    "gpb-owt-ucm",
    "felzenszwalb",
    "slic-ncut",
    "specseg-k",
    "specseg-auto",
    "specseg-hierarchy",
    "specseg-contour-ucm",
)


# --------------------------------------------------------------------------- data set


def image_ids(root, split="val"):
    """The ids of a split, sorted: the stems of ``images/<split>/*.jpg``."""
    folder = Path(root) / "images" / split
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}: --root must hold images/{split}/*.jpg.")
    ids = sorted(path.stem for path in folder.glob("*.jpg"))
    if not ids:
        raise FileNotFoundError(f"no .jpg images in {folder}.")
    return ids


def read_image(root, split, image_id):
    """The photograph, (M, N, 3) uint8."""
    import imageio.v3 as iio

    return np.asarray(iio.imread(Path(root) / "images" / split / f"{image_id}.jpg"))


def read_ground_truths(root, split, image_id):
    """The human segmentations of an image: a list of (M, N) integer arrays."""
    from scipy.io import loadmat

    path = Path(root) / "groundTruth" / split / f"{image_id}.mat"
    cell = loadmat(path)["groundTruth"]
    truths = [np.asarray(cell.flat[i]["Segmentation"][0, 0]) for i in range(cell.size)]
    if not truths:
        raise ValueError(f"{path} holds no ground truth.")
    return truths


def read_ucm2(root, split, image_id):
    """gPb-owt-ucm's double-size contour map ``ucm2`` ((2M+1, 2N+1) floats in [0, 1])."""
    from scipy.io import loadmat

    return np.asarray(loadmat(Path(root) / "ucm2" / split / f"{image_id}.mat")["ucm2"], float)


def ucm2_labels(ucm2, threshold, *, connectivity=8):
    """The segmentation of a double-size UCM at a threshold.

    The connected components of ``ucm2 <= threshold`` (8-connected, as MATLAB's
    ``bwlabel``), read at the pixel sites ``ucm2[1::2, 1::2]``: labels 1..n.
    """
    from scipy import ndimage

    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    labels, _ = ndimage.label(ucm2 <= threshold, structure=structure)
    return labels[1::2, 1::2]


# --------------------------------------------------------------------------- scoring


class _ImageScorer:
    """Scores the scales of one image against its truths.

    Successive scales of a hierarchy are nested in its finest one (the first):
    their contingency tables are then sums of the first one's rows, which is
    much cheaper than a pass over the pixels. Every scale is checked for it
    (each of its first-scale regions inside one segment); one that is not nested
    is scored from its pixels. Both give the same numbers.
    """

    def __init__(self, truths, shape, *, nested=False):
        self.truths = _GroundTruths(truths, shape)
        self.nested = nested
        self.leaves = None

    def score(self, labels):
        labels = np.asarray(labels)
        if labels.shape != self.truths.shape:
            raise ValueError(
                f"a segmentation has shape {labels.shape} but the image {self.truths.shape}."
            )
        codes, n_segments = _codes(labels)
        if self.leaves is not None:
            leaf_codes, first_pixel, leaf_sizes, leaf_tables = self.leaves
            mapping = codes[first_pixel]
            if np.array_equal(mapping[leaf_codes], codes):
                tables = []
                for (rows, cols, counts), sizes in zip(
                    leaf_tables, self.truths.sizes, strict=True
                ):
                    n_cols = sizes.size
                    key = mapping[rows] * n_cols + cols
                    cells = n_segments * n_cols
                    if cells <= 1 << 22:
                        summed = np.bincount(key, counts, minlength=cells)
                        index = np.flatnonzero(summed)
                        summed = summed[index]
                    else:
                        index, inverse = np.unique(key, return_inverse=True)
                        summed = np.bincount(inverse.ravel(), counts)
                    tables.append((index // n_cols, index % n_cols, summed))
                sizes = np.bincount(mapping, leaf_sizes, minlength=n_segments)
                return self.truths.score_tables(tables, sizes), n_segments
        tables = [
            _contingency(codes, n_segments, truth, sizes.size)
            for truth, sizes in zip(self.truths.codes, self.truths.sizes, strict=True)
        ]
        sizes = np.bincount(codes, minlength=n_segments)
        if self.nested and self.leaves is None:
            first_pixel = np.empty(n_segments, np.int64)  # a pixel of each region, any one
            first_pixel[codes] = np.arange(codes.size)
            self.leaves = (codes, first_pixel, sizes, tables)
        return self.truths.score_tables(tables, sizes), n_segments


def score_scales(segmentations, truths, *, nested=False):
    """Region benchmark of one image at every scale.

    Parameters
    ----------
    segmentations : iterable of (M, N) int arrays
        One labelling per scale (consumed lazily).
    truths : sequence of (M, N) int arrays
        The image's human segmentations.
    nested : bool, optional
        The scales are a hierarchy's, finest first: score them from the first
        one's contingency tables where the nesting holds (the same numbers, faster).

    Returns
    -------
    scores : dict of (S,) ndarrays
        ``covering_weighted``, ``covering_weight``, ``pri``, ``vi``, ``n_segments``
        per scale, and ``best_overlaps`` (each truth region's best overlap over
        all scales) with ``region_sizes``.
    """
    truths = list(truths)
    scorer = _ImageScorer(truths, np.shape(truths[0]), nested=nested)
    rows = []
    best = None
    for labels in segmentations:
        scores, n_segments = scorer.score(labels)
        rows.append((scores.covering_weighted, scores.covering_weight, scores.pri, scores.vi,
                     n_segments))
        best = scores.best_overlaps if best is None else np.maximum(best, scores.best_overlaps)
    if not rows:
        raise ValueError("the method gave no segmentation for an image.")
    columns = np.array(rows, dtype=float).T
    return {
        "covering_weighted": columns[0],
        "covering_weight": columns[1],
        "pri": columns[2],
        "vi": columns[3],
        "n_segments": columns[4].astype(int),
        "best_overlaps": best,
        "region_sizes": scorer.truths.region_sizes,
    }


def aggregate(per_image, *, scales=None):
    """The ODS/OIS row of a method from its per-image scores.

    Parameters
    ----------
    per_image : list of dict
        As :func:`evaluate` returns them.
    scales : sequence of int, optional
        Indices of the scales to use (all by default).

    Returns
    -------
    row : dict
        ``covering_ods``, ``covering_ois``, ``pri_ods``, ``pri_ois``, ``vi_ods``,
        ``vi_ois``, the best scales' indices (``covering_ods_scale``,
        ``pri_ods_scale``, ``vi_ods_scale``), ``seconds_per_image`` (mean),
        ``n_images`` and ``n_scales``.
    """
    if not per_image:
        raise ValueError("no images to aggregate.")
    n_scales = {len(image["pri"]) for image in per_image}
    if len(n_scales) != 1:
        raise ValueError(
            f"the method gave different numbers of scales to different images: {sorted(n_scales)}."
        )
    pick = slice(None) if scales is None else np.asarray(scales, int)

    def stack(key):
        return np.array([np.asarray(image[key], float)[pick] for image in per_image])

    weighted, weight = stack("covering_weighted"), stack("covering_weight")
    pri, vi = stack("pri"), stack("vi")
    covering_set = weighted.sum(0) / weight.sum(0)
    best_scale = np.argmax(weighted / weight, axis=1)
    rows = np.arange(len(per_image))
    mean_pri, mean_vi = pri.mean(0), vi.mean(0)
    return {
        "covering_ods": float(covering_set.max()),
        "covering_ois": float(weighted[rows, best_scale].sum() / weight[rows, best_scale].sum()),
        "pri_ods": float(mean_pri.max()),
        "pri_ois": float(pri.max(1).mean()),
        "vi_ods": float(mean_vi.min()),
        "vi_ois": float(vi.min(1).mean()),
        "covering_ods_scale": int(np.argmax(covering_set)),
        "pri_ods_scale": int(np.argmax(mean_pri)),
        "vi_ods_scale": int(np.argmin(mean_vi)),
        "seconds_per_image": float(np.mean([image["seconds"] for image in per_image])),
        "n_images": len(per_image),
        "n_scales": int(weighted.shape[1]),
    }


# --------------------------------------------------------------------------- running

_JOB = {}  # what the workers run: set before they fork, so lambdas and closures work


def _one_image(image_id):
    job = _JOB
    root, split = job["root"], job["split"]
    truths = read_ground_truths(root, split, image_id)
    image = read_image(root, split, image_id) if job["needs_image"] else None
    start = time.perf_counter()
    if job["kind"] == "scales":
        segmentations = list(job["fn"](image, image_id))
        seconds = time.perf_counter() - start
        scores = score_scales(segmentations, truths)
    else:
        hierarchy = job["fn"](image, image_id)
        if hasattr(hierarchy, "cut"):
            def cut(threshold):
                return hierarchy.cut(threshold=threshold)
        else:
            cut = hierarchy
        seconds = [time.perf_counter() - start]

        def cuts():
            for threshold in job["thresholds"]:
                begin = time.perf_counter()
                labels = cut(float(threshold))
                seconds[0] += time.perf_counter() - begin
                yield labels

        scores = score_scales(cuts(), truths, nested=True)
        seconds = seconds[0]
    scores["id"] = image_id
    scores["seconds"] = seconds
    return scores


def _init_worker():
    os.environ["SPECSEG_NUM_THREADS"] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency of specseg
        pass


def _run(kind, fn, root, split, *, thresholds=None, limit=None, jobs=1, needs_image=True,
         ids=None, progress=None):
    if not (isinstance(jobs, int) and jobs >= 1):
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}.")
    if limit is not None and not (isinstance(limit, int) and limit >= 1):
        raise ValueError(f"limit must be None or a positive integer, got {limit!r}.")
    ids = list(image_ids(root, split) if ids is None else ids)[:limit]
    _JOB.clear()
    _JOB.update(kind=kind, fn=fn, root=root, split=split, thresholds=thresholds,
                needs_image=needs_image)
    per_image = []
    if jobs == 1:
        for image_id in ids:
            per_image.append(_one_image(image_id))
            if progress:
                progress(len(per_image), len(ids))
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(jobs, len(ids)), initializer=_init_worker) as pool:
            for scores in pool.imap(_one_image, ids):
                per_image.append(scores)
                if progress:
                    progress(len(per_image), len(ids))
    return aggregate(per_image), per_image


def evaluate(segment_fn, root, split="val", *, limit=None, jobs=1, ids=None, progress=None):
    """Region benchmark of a method that gives every image one segmentation per scale.

    Parameters
    ----------
    segment_fn : callable
        ``segment_fn(image) -> list of (M, N) int arrays``, one per scale (the same
        number for every image); ``image`` is the (M, N, 3) uint8 photograph.
    root : str or Path
        The data set's folder (``images/<split>``, ``groundTruth/<split>``).
    split : str, optional
        ``"val"`` by default (``"train"`` for tuning).
    limit : int, optional
        Only the first ``limit`` images (sorted by id).
    jobs : int, optional
        Processes (forked: ``segment_fn`` may be a lambda or a closure).
    ids : sequence of str, optional
        These images instead of the whole split.
    progress : callable, optional
        Called as ``progress(done, total)`` after each image.

    Returns
    -------
    row : dict
        See :func:`aggregate`.
    per_image : list of dict
        Per image: ``id``, ``seconds`` and, per scale, ``covering_weighted``,
        ``covering_weight``, ``pri``, ``vi`` and ``n_segments``.
    """
    return _run("scales", lambda image, _: segment_fn(image), root, split, limit=limit,
                jobs=jobs, ids=ids, progress=progress)


def evaluate_ucm(ucm_fn, root, split="val", *, thresholds=THRESHOLDS, limit=None, jobs=1,
                 ids=None, progress=None):
    """Region benchmark of a hierarchy, cut at every threshold (99 from 0.01 to 0.99).

    Parameters
    ----------
    ucm_fn : callable
        ``ucm_fn(image)`` returns an object with ``cut(threshold=t) -> labels``
        (like ``specseg.hierarchy``) or a callable ``t -> labels``, labels of the
        image's shape. Its time and that of the cuts make ``seconds``.
    root, split, limit, jobs, ids, progress
        As for :func:`evaluate`.
    thresholds : sequence of float, optional
        Ascending thresholds: the cut at the first should be the finest.

    Returns
    -------
    row, per_image
        As for :func:`evaluate`.
    """
    return _run("hierarchy", lambda image, _: ucm_fn(image), root, split,
                thresholds=np.asarray(thresholds, float), limit=limit, jobs=jobs, ids=ids,
                progress=progress)


# --------------------------------------------------------------------------- the methods


def _gpb_ucm(root, split):
    def fn(image, image_id):
        ucm2 = read_ucm2(root, split, image_id)
        return lambda threshold: ucm2_labels(ucm2, threshold)

    return fn


def felzenszwalb_scales(image):
    from skimage.segmentation import felzenszwalb

    return [
        felzenszwalb(image, scale=float(scale), sigma=0.8, min_size=20, channel_axis=-1)
        for scale in FELZENSZWALB_SCALES
    ]


def slic_ncut_scales(image):
    from skimage import graph
    from skimage.segmentation import slic

    superpixels = slic(image, n_segments=400, compactness=30, start_label=1, channel_axis=-1)
    rag = graph.rag_mean_color(image, superpixels, mode="similarity")
    return [
        graph.cut_normalized(superpixels, rag, thresh=thresh, in_place=False, rng=0)
        for thresh in SLIC_NCUT_THRESHOLDS
    ]


def specseg_k_scales(image):
    import specseg
    from specseg._segment import _auto_mode

    if _auto_mode(image, None, -1) == "contours":
        # segment(image, k) in the contours mode is the hierarchy's k-level
        # (tests/test_contours.py): build the hierarchy once, cut it per k.
        h = specseg.hierarchy(image, channel_axis=-1)
        return [h.cut(n_segments=min(max(k, h.n_roots), h.n_leaves)) for k in SPECSEG_KS]
    return [specseg.segment(image, k, channel_axis=-1) for k in SPECSEG_KS]


def specseg_auto(image):
    import specseg

    return [specseg.segment(image, "auto", channel_axis=-1)]


def specseg_hierarchy(image):
    import specseg

    return specseg.hierarchy(image, channel_axis=-1)


def specseg_contour_ucm(image):
    import specseg

    return specseg.hierarchy(image, channel_axis=-1, merging=False)


def _method(name, root, split):
    """``(kind, fn(image, image_id), thresholds, needs_image, label)`` of a named method."""
    if name == "gpb-owt-ucm":
        return "hierarchy", _gpb_ucm(root, split), THRESHOLDS, False, "gPb-owt-ucm (ucm2 files)"
    if name == "specseg-hierarchy":
        return ("hierarchy", lambda image, _: specseg_hierarchy(image), THRESHOLDS, True,
                "specseg `hierarchy(image, channel_axis=-1)`")
    if name == "specseg-contour-ucm":
        return ("hierarchy", lambda image, _: specseg_contour_ucm(image), THRESHOLDS, True,
                "specseg `hierarchy(image, channel_axis=-1, merging=False)` (contours only)")
    scales = {
        "felzenszwalb": (felzenszwalb_scales, "skimage `felzenszwalb` (sigma 0.8, min_size 20, "
                         "11 scales 50..5000)"),
        "slic-ncut": (slic_ncut_scales, "skimage SLIC 400 + RAG + `cut_normalized` "
                      f"(thresh {', '.join(map(str, SLIC_NCUT_THRESHOLDS))})"),
        "specseg-k": (specseg_k_scales, "specseg `segment(image, k, channel_axis=-1)`, k in "
                      f"{', '.join(map(str, SPECSEG_KS))}"),
        "specseg-auto": (specseg_auto, 'specseg `segment(image, "auto", channel_axis=-1)`'),
    }
    fn, label = scales[name]
    return "scales", lambda image, _: fn(image), None, True, label


def available_methods(root, split):
    """The methods that can run here: gPb-owt-ucm needs ``ucm2/<split>``, the hierarchy
    ``specseg.hierarchy``."""
    import specseg

    names = []
    for name in METHODS:
        if name == "gpb-owt-ucm" and not (Path(root) / "ucm2" / split).is_dir():
            continue
        if name in ("specseg-hierarchy", "specseg-contour-ucm") and not hasattr(
                specseg, "hierarchy"):
            continue
        names.append(name)
    return names


def format_table(rows):
    lines = [
        "| method | covering ODS | OIS | PRI ODS | OIS | VI ODS | OIS | s/image |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, row in rows:
        lines.append(
            f"| {label} | {row['covering_ods']:.3f} | {row['covering_ois']:.3f} | "
            f"{row['pri_ods']:.3f} | {row['pri_ois']:.3f} | {row['vi_ods']:.3f} | "
            f"{row['vi_ois']:.3f} | {row['seconds_per_image']:.3f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the BSDS500 folder")
    parser.add_argument("--split", default="val", help="images/<split> (default val)")
    parser.add_argument("--methods", nargs="+", choices=METHODS,
                        help="methods to run (default: all that can run)")
    parser.add_argument("--limit", type=int, help="only the first N images")
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the rows (all digits, best scales) as JSON")
    args = parser.parse_args(argv)
    if args.jobs < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--jobs and --limit must be positive integers.")
    try:
        ids = image_ids(args.root, args.split)[: args.limit]
    except FileNotFoundError as error:
        parser.error(str(error))
    names = args.methods or available_methods(args.root, args.split)
    rows = []
    for name in names:
        kind, fn, thresholds, needs_image, label = _method(name, args.root, args.split)
        start = time.perf_counter()

        def progress(done, total, name=name):
            if done % 10 == 0 or done == total:
                print(f"{name}: {done}/{total} images", file=sys.stderr, flush=True)

        row, _ = _run(kind, fn, args.root, args.split, thresholds=thresholds, jobs=args.jobs,
                      needs_image=needs_image, ids=ids, progress=progress)
        row["method"] = name
        rows.append((label, row))
        if args.json:
            import json

            Path(args.json).write_text(json.dumps(
                {"split": args.split, "n_images": len(ids), "jobs": args.jobs,
                 "rows": [dict(row, label=lab) for lab, row in rows]},
                indent=1) + "\n")
        print(f"{name}: {row['n_images']} images x {row['n_scales']} scales in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    print(f"BSDS500 {args.split}, {len(ids)} images, --jobs {args.jobs}")
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

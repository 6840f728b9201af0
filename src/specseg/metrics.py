"""Scores of a segmentation: the normalized-cut objective and agreement with truth.

Agreement with several human segmentations follows the region benchmark of the
Berkeley Segmentation Data Set (BSDS500, Arbeláez et al. 2011) exactly:
:func:`segmentation_covering`, :func:`probabilistic_rand_index` and
:func:`mean_variation_of_information` (base 2), all three from one set of
contingency tables (:func:`region_benchmark`). Every label value is a region,
including 0 and negative values; select pixels first to ignore some.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from ._validation import check_affinity

__all__ = [
    "RegionScores",
    "adjusted_rand_score",
    "boundary_f1",
    "mean_variation_of_information",
    "ncut_value",
    "probabilistic_rand_index",
    "region_benchmark",
    "segmentation_covering",
    "variation_of_information",
]


def ncut_value(affinity, labels):
    """The k-way normalized cut of a labelling.

    .. math::

        \\mathrm{Ncut}(A_1, \\dots, A_k) = \\sum_{j} \\frac{\\mathrm{cut}(A_j, V \\setminus A_j)}
        {\\mathrm{vol}(A_j)}

    with ``vol(A) = sum of degrees in A``. Self-loops are ignored; a segment of
    zero volume contributes 0. Lower is better; the value lies in ``[0, k]``.

    Parameters
    ----------
    affinity : (n, n) sparse matrix or ndarray
        Symmetric non-negative affinities.
    labels : (n,) array_like of int
        One label per node (any integers; negative labels count as a segment too).

    Returns
    -------
    ncut : float

    Examples
    --------
    >>> W = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
    >>> ncut_value(W, [0, 0, 1])
    1.3333333333333333
    """
    affinity = check_affinity(affinity)
    labels = np.asarray(labels).ravel()
    if labels.shape[0] != affinity.shape[0]:
        raise ValueError(
            f"labels has {labels.shape[0]} entries but the graph has {affinity.shape[0]} nodes."
        )
    return _ncut(affinity, labels)


def _ncut(affinity, labels):
    """:func:`ncut_value` of a graph already validated (symmetric CSR, no self-loops)."""
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.ravel()
    k = int(codes.max()) + 1
    coo = affinity.tocoo()
    degree = np.bincount(coo.row, coo.data, minlength=affinity.shape[0])
    volume = np.bincount(codes, degree, minlength=k)
    same = codes[coo.row] == codes[coo.col]
    within = np.bincount(codes[coo.row[same]], coo.data[same], minlength=k)
    cut = volume - within
    nonzero = volume > 0
    return float(np.sum(cut[nonzero] / volume[nonzero]))


def adjusted_rand_score(labels_true, labels_pred):
    """Adjusted Rand index of two labellings (scikit-learn's), on flattened arrays.

    Examples
    --------
    >>> adjusted_rand_score([[0, 0], [1, 1]], [[5, 5], [3, 3]])
    1.0
    """
    from sklearn.metrics import adjusted_rand_score as _ari

    return float(_ari(np.ravel(labels_true), np.ravel(labels_pred)))


def _paired(labels_true, labels_pred):
    truth = np.asarray(labels_true)
    pred = np.asarray(labels_pred)
    if truth.shape != pred.shape:
        raise ValueError(
            f"labellings have different shapes {truth.shape} and {pred.shape}; they must match."
        )
    if truth.size == 0:
        raise ValueError("labellings are empty.")
    return truth, pred


def variation_of_information(labels_true, labels_pred, *, base=None):
    """Variation of information between two labellings (Meila 2007).

    .. math::

        \\mathrm{VI}(X, Y) = H(X \\mid Y) + H(Y \\mid X)
                          = H(X) + H(Y) - 2 I(X; Y)

    A metric on partitions: 0 for identical partitions (whatever the label
    ids), larger is worse, at most ``log(n)`` for ``n`` pixels. Every label,
    including negative ones, is a segment; select pixels first to ignore some.

    Parameters
    ----------
    labels_true, labels_pred : array_like of int
        Two labellings of the same shape (any number of dimensions).
    base : float, optional
        Base of the logarithm: ``None`` (the default) for natural logarithms
        (nats), ``2`` for bits as in the BSDS benchmark
        (:func:`mean_variation_of_information` averages it over several truths).

    Returns
    -------
    vi : float

    References
    ----------
    .. [1] M. Meila, "Comparing clusterings -- an information based distance",
           J. Multivariate Analysis 98(5), 2007. :doi:`10.1016/j.jmva.2006.11.013`

    Examples
    --------
    >>> variation_of_information([0, 0, 1, 1], [7, 7, 3, 3])
    0.0
    >>> round(variation_of_information([0, 0, 1, 1], [0, 0, 0, 0]), 4)  # log 2
    0.6931
    >>> round(variation_of_information([0, 0, 1, 1], [0, 0, 0, 0], base=2), 12)  # one bit
    1.0
    """
    truth, pred = _paired(labels_true, labels_pred)
    scale = _log_scale(base)
    a, n_a = _codes(truth)
    b, n_b = _codes(pred)
    _, _, joint = _contingency(a, n_a, b, n_b)
    return _vi(joint, np.bincount(a, minlength=n_a), np.bincount(b, minlength=n_b), a.size) / scale


def _log_scale(base):
    """``log(base)``, the divisor that turns nats into the requested unit."""
    if base is None:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, numbers.Real) or not (
        np.isfinite(base) and base > 0 and base != 1
    ):
        raise ValueError(f"base must be None or a finite number > 0 other than 1, got {base!r}.")
    return math.log(base)


def _codes(labels):
    """Labels (any shape) -> flat codes ``0..n-1`` (in sorted label order) and ``n``."""
    flat = np.asarray(labels).ravel()
    if flat.dtype.kind in "iub" and flat.size:
        flat = flat.astype(np.int64, copy=False)
        low = int(flat.min())
        span = int(flat.max()) - low + 1
        if span <= 4 * flat.size + 1024:  # a table is cheaper than sorting
            shifted = flat - low if low else flat
            present = np.bincount(shifted, minlength=span) > 0
            table = np.cumsum(present) - 1
            return table[shifted], int(table[-1]) + 1
    uniques, codes = np.unique(flat, return_inverse=True)
    return codes.ravel().astype(np.int64, copy=False), int(uniques.size)


def _contingency(a, n_a, b, n_b):
    """Nonzero cells ``(row, col, count)`` of the contingency table of two code arrays."""
    cells = n_a * n_b
    joint = a * n_b + b
    if cells <= 4 * a.size + (1 << 20):
        counts = np.bincount(joint, minlength=cells)
        index = np.flatnonzero(counts)
        counts = counts[index]
    else:  # too many cells for a dense table: sort the pairs instead
        index, counts = np.unique(joint, return_counts=True)
    return index // n_b, index % n_b, counts


def _xlogx_sum(counts):
    counts = np.asarray(counts, dtype=float)
    counts = counts[counts > 0]
    return float(np.sum(counts * np.log(counts)))


def _vi(joint, sizes_a, sizes_b, n):
    """VI in nats from the counts: ``(sum a log a + sum b log b - 2 sum n log n) / N``."""
    value = (_xlogx_sum(sizes_a) + _xlogx_sum(sizes_b) - 2.0 * _xlogx_sum(joint)) / n
    return max(value, 0.0)


def _rand_index(joint, sizes_a, sizes_b, n):
    """Rand index from the counts (the fraction of pixel pairs on which both agree)."""
    if n < 2:
        return 1.0
    joint = np.asarray(joint, dtype=float)
    sizes_a = np.asarray(sizes_a, dtype=float)
    sizes_b = np.asarray(sizes_b, dtype=float)
    disagree = 0.5 * (sizes_a @ sizes_a + sizes_b @ sizes_b) - joint @ joint
    return float(1.0 - disagree / (0.5 * n * (n - 1.0)))


class RegionScores(NamedTuple):
    """The BSDS region benchmark of one segmentation against several truths.

    Attributes
    ----------
    covering : float
        ``covering_weighted / covering_weight``, see :func:`segmentation_covering`.
    covering_weighted : float
        Sum over every region ``R`` of every truth of ``|R|`` times its best
        intersection over union with a region of the segmentation (the bench
        code's ``cntR``).
    covering_weight : float
        Sum of those weights: the number of truths times the number of pixels
        (``sumR``). Summing both over images gives the data-set covering.
    pri : float
        Probabilistic Rand index, see :func:`probabilistic_rand_index`.
    vi : float
        Mean variation of information in bits, see
        :func:`mean_variation_of_information`.
    best_overlaps : (R,) ndarray
        The best intersection over union of every region of every truth, the
        truths' regions in order (their labels sorted); the bench code keeps
        its maximum over scales for the "best" covering.
    region_sizes : (R,) ndarray
        The sizes ``|R|`` of those regions.
    """

    covering: float
    covering_weighted: float
    covering_weight: float
    pri: float
    vi: float
    best_overlaps: np.ndarray
    region_sizes: np.ndarray


class _GroundTruths:
    """Several truths of one image, coded once, scored against many segmentations."""

    def __init__(self, ground_truths, shape):
        truths = _as_truths(ground_truths, shape)
        self.shape = truths[0].shape
        self.n_pixels = truths[0].size
        self.codes = []
        self.sizes = []
        for truth in truths:
            codes, n_regions = _codes(truth)
            self.codes.append(codes)
            self.sizes.append(np.bincount(codes, minlength=n_regions))
        self.region_sizes = np.concatenate(self.sizes)

    def score(self, segmentation):
        segmentation = np.asarray(segmentation)
        if segmentation.shape != self.shape:
            raise ValueError(
                f"the segmentation has shape {segmentation.shape} but the ground truths "
                f"{self.shape}; they must match."
            )
        seg, n_seg = _codes(segmentation)
        return self.score_tables(
            [_contingency(seg, n_seg, truth, sizes.size)
             for truth, sizes in zip(self.codes, self.sizes, strict=True)],
            np.bincount(seg, minlength=n_seg),
        )

    def score_tables(self, tables, seg_sizes):
        """Scores from the contingency tables ``(row, col, count)`` against each truth."""
        n = self.n_pixels
        seg_sizes = np.asarray(seg_sizes, dtype=float)
        best = []
        ri = vi = 0.0
        for (rows, cols, counts), sizes in zip(tables, self.sizes, strict=True):
            counts = np.asarray(counts, dtype=float)
            union = seg_sizes[rows] + sizes[cols] - counts
            overlap = np.zeros(sizes.size)
            np.maximum.at(overlap, cols, counts / union)
            best.append(overlap)
            ri += _rand_index(counts, seg_sizes, sizes, n)
            vi += _vi(counts, seg_sizes, sizes, n)
        best = np.concatenate(best)
        n_truths = len(self.sizes)
        weighted = float(self.region_sizes @ best)
        weight = float(n_truths * n)
        return RegionScores(
            covering=weighted / weight,
            covering_weighted=weighted,
            covering_weight=weight,
            pri=ri / n_truths,
            vi=vi / n_truths / math.log(2.0),
            best_overlaps=best,
            region_sizes=self.region_sizes,
        )


def _as_truths(ground_truths, shape):
    """One truth of ``shape``, or several (a sequence or a stack) -> a list of arrays."""
    try:
        single = np.ndim(ground_truths) == len(shape)
    except ValueError:  # a ragged sequence: several truths (whose shapes are checked below)
        single = False
    truths = [ground_truths] if single else list(ground_truths)
    if not truths:
        raise ValueError("ground_truths is empty; give at least one ground truth.")
    truths = [np.asarray(truth) for truth in truths]
    for i, truth in enumerate(truths):
        if truth.shape != tuple(shape):
            raise ValueError(
                f"ground truth {i} has shape {truth.shape} but the segmentation has "
                f"{tuple(shape)}; they must match."
            )
    return truths


def region_benchmark(segmentation, ground_truths):
    """Segmentation covering, probabilistic Rand index and VI against several truths.

    The BSDS500 region benchmark of one image at one scale, computed from the
    contingency tables of the segmentation with each truth, as the data set's
    bench code (``evaluation_reg_image.m``, ``match_segmentations.m``,
    ``match_segmentations2.m``) defines it. The counts it returns add up over
    images for the data-set scores (ODS, OIS).

    Parameters
    ----------
    segmentation : (M, N[, P]) array_like of int
        The labels to score; every value is a region.
    ground_truths : array_like or sequence of array_like
        One truth of the segmentation's shape, a sequence of them, or a stack
        of them along a new first axis.

    Returns
    -------
    scores : RegionScores
        ``covering``, its numerator and denominator, ``pri``, ``vi`` (bits) and
        the best overlap of every truth region.

    See Also
    --------
    segmentation_covering, probabilistic_rand_index, mean_variation_of_information

    Examples
    --------
    >>> seg = np.array([[0, 0, 1, 1]])
    >>> scores = region_benchmark(seg, [[[1, 1, 2, 2]], [[1, 1, 1, 1]]])
    >>> scores.covering_weighted, scores.covering_weight, round(scores.pri, 4)
    (6.0, 8.0, 0.6667)
    """
    segmentation = np.asarray(segmentation)
    if segmentation.size == 0:
        raise ValueError("labellings are empty.")
    return _GroundTruths(ground_truths, segmentation.shape).score(segmentation)


def segmentation_covering(segmentation, ground_truths):
    """Covering of several human segmentations by a segmentation (BSDS500).

    .. math::

        C(S, \\{G_i\\}) = \\frac{1}{n N} \\sum_{i=1}^{n} \\sum_{R \\in G_i}
            |R| \\max_{R' \\in S} \\frac{|R \\cap R'|}{|R \\cup R'|}

    for ``n`` truths of ``N`` pixels: every region of every truth is matched to
    its best-overlapping region of ``S`` and weighted by its size. 1 when ``S``
    equals every truth; higher is better.

    Parameters
    ----------
    segmentation : (M, N[, P]) array_like of int
        The labels to score; every value is a region.
    ground_truths : array_like or sequence of array_like
        One truth of the segmentation's shape, a sequence of them, or a stack
        of them along a new first axis.

    Returns
    -------
    covering : float
        In ``(0, 1]``.

    References
    ----------
    .. [1] P. Arbeláez, M. Maire, C. Fowlkes and J. Malik, "Contour detection and
           hierarchical image segmentation", IEEE TPAMI 33(5), 2011.
           :doi:`10.1109/TPAMI.2010.161`

    Examples
    --------
    >>> truth = np.array([[1, 1, 2, 2]])
    >>> segmentation_covering([[5, 5, 7, 7]], [truth, truth])
    1.0
    >>> segmentation_covering([[0, 0, 0, 1]], truth)  # (2 * 2/3 + 2 * 1/2) / 4
    0.5833333333333333
    """
    return region_benchmark(segmentation, ground_truths).covering


def probabilistic_rand_index(segmentation, ground_truths):
    """Probabilistic Rand index of a segmentation against several truths (BSDS500).

    The mean over the truths ``G_i`` of the Rand index: the fraction of the
    ``N (N - 1) / 2`` pairs of pixels on which ``S`` and ``G_i`` agree (both in
    one region, or both apart). 1 for a perfect match (1 for a single pixel);
    higher is better.

    Parameters
    ----------
    segmentation : (M, N[, P]) array_like of int
        The labels to score; every value is a region.
    ground_truths : array_like or sequence of array_like
        One truth of the segmentation's shape, a sequence of them, or a stack
        of them along a new first axis.

    Returns
    -------
    pri : float
        In ``[0, 1]``.

    References
    ----------
    .. [1] R. Unnikrishnan, C. Pantofaru and M. Hebert, "Toward objective
           evaluation of image segmentation algorithms", IEEE TPAMI 29(6), 2007.
           :doi:`10.1109/TPAMI.2007.1046`

    Examples
    --------
    >>> truths = [[[1, 1, 2, 2]], [[3, 3, 3, 3]]]  # Rand index 1 and 2/6
    >>> round(probabilistic_rand_index([[0, 0, 1, 1]], truths), 4)
    0.6667
    """
    return region_benchmark(segmentation, ground_truths).pri


def mean_variation_of_information(segmentation, ground_truths, *, base=2):
    """Variation of information against several truths, averaged (BSDS500).

    The mean over the truths ``G_i`` of
    ``VI(S, G_i) = H(S) + H(G_i) - 2 I(S; G_i)``, by default in bits as the
    BSDS bench code computes it. 0 for a perfect match; lower is better.

    Parameters
    ----------
    segmentation : (M, N[, P]) array_like of int
        The labels to score; every value is a region.
    ground_truths : array_like or sequence of array_like
        One truth of the segmentation's shape, a sequence of them, or a stack
        of them along a new first axis.
    base : float, optional
        Base of the logarithm, 2 (bits) by default; ``None`` for nats.

    Returns
    -------
    vi : float

    See Also
    --------
    variation_of_information : one truth, in nats by default.

    Examples
    --------
    >>> truths = [[[1, 1, 2, 2]], [[3, 3, 3, 3]]]  # VI 0 and 1 bit
    >>> round(mean_variation_of_information([[0, 0, 1, 1]], truths), 12)
    0.5
    """
    scale = _log_scale(base)
    return region_benchmark(segmentation, ground_truths).vi * math.log(2.0) / scale


def _boundaries(labels):
    """Pixels whose label differs from the next pixel along some axis (one-sided, thin)."""
    edge = np.zeros(labels.shape, dtype=bool)
    for axis in range(labels.ndim):
        lo = [slice(None)] * labels.ndim
        hi = [slice(None)] * labels.ndim
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        edge[tuple(lo)] |= labels[tuple(lo)] != labels[tuple(hi)]
    return edge


def boundary_f1(labels_true, labels_pred, *, tolerance=2):
    """F1 score of segment boundaries matched within a pixel tolerance.

    A pixel is a boundary pixel when its label differs from that of the next
    pixel along some axis. A predicted boundary pixel is correct when a true
    boundary pixel lies within Euclidean distance ``tolerance`` of it
    (precision); a true boundary pixel is found when a predicted one lies within
    ``tolerance`` (recall). The score is ``2 P R / (P + R)``; 1 when neither
    labelling has a boundary, 0 when only one has.

    Parameters
    ----------
    labels_true, labels_pred : (M, N[, P]) array_like of int
        Two labellings of the same shape.
    tolerance : float, optional
        Largest distance, in pixels, at which boundaries still match.

    Returns
    -------
    f1 : float

    References
    ----------
    .. [1] D. Martin, C. Fowlkes and J. Malik, "Learning to detect natural image
           boundaries using local brightness, color, and texture cues",
           IEEE TPAMI 26(5), 2004. :doi:`10.1109/TPAMI.2004.1273918`

    Examples
    --------
    >>> truth = np.zeros((6, 6), int); truth[:, 3:] = 1
    >>> shifted = np.zeros((6, 6), int); shifted[:, 4:] = 1
    >>> boundary_f1(truth, shifted, tolerance=1), boundary_f1(truth, shifted, tolerance=0)
    (1.0, 0.0)
    """
    truth, pred = _paired(labels_true, labels_pred)
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not (
        np.isfinite(tolerance) and tolerance >= 0
    ):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}.")
    true_edge = _boundaries(truth)
    pred_edge = _boundaries(pred)
    n_true, n_pred = int(true_edge.sum()), int(pred_edge.sum())
    if n_true == 0 and n_pred == 0:
        return 1.0
    if n_true == 0 or n_pred == 0:
        return 0.0
    near_true = ndimage.distance_transform_edt(~true_edge) <= tolerance
    near_pred = ndimage.distance_transform_edt(~pred_edge) <= tolerance
    precision = np.count_nonzero(pred_edge & near_true) / n_pred
    recall = np.count_nonzero(true_edge & near_pred) / n_true
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))

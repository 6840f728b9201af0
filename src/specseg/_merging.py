"""Superpixels -> hierarchy: learned region merging.

The oriented watershed and ultrametric contour map (:mod:`specseg._hierarchy`)
give accurate fine regions, but they order the merges of larger regions by one
number, the mean boundary strength along the arc between them. People judge
large regions also by what is inside them: two halves of a lawn split by a
faint shadow are one region, a grey roof against a grey sky of another texture
is not. So, as ISCRA [1]_ does, the fine level of the contour hierarchy
(``SUPERPIXEL_THRESHOLD``) is taken as superpixels and merged again, greedily:
at every step the adjacent pair with the lowest *learned* probability of a
boundary between them merges, and the features of the new region's pairs are
recomputed from summed statistics:

- the mean boundary strength and the mean contour-map height along the border
  shared by the pair, and the border's length (absolute and relative to the
  smaller region's size);
- the sizes of the two regions;
- chi-squared distances between their texton histograms and their L*, a*,
  b* histograms, and the differences of their mean L* and (a*, b*).

The probability comes from a small network fitted on the BSDS500 train split
by ``benchmarks/train_merging.py`` (weights in ``specseg/data/merging.npz``,
plain arrays). A merge's height is the largest probability merged so far, so
heights never fall and the result is again an ultrametric hierarchy.

References
----------
.. [1] Z. Ren and G. Shakhnarovich, "Image segmentation by cascaded region
       agglomeration", CVPR 2013. :doi:`10.1109/CVPR.2013.267`
"""

from __future__ import annotations

import functools
import heapq
from importlib import resources

import numpy as np

from ._features import LAB_RANGES

__all__ = ["learned_merging", "region_statistics", "pair_sums", "pair_features"]

#: The level of the contour hierarchy whose regions are merged again.
SUPERPIXEL_THRESHOLD = 0.04
#: Bins of the L*, a*, b* histograms of a region.
REGION_BINS = 12
#: Names of the columns of :func:`pair_features`.
FEATURE_NAMES = (
    "boundary", "ucm", "log_length", "log_small", "log_large", "length_per_size",
    "chi2_texton", "chi2_L", "chi2_a", "chi2_b", "delta_L", "delta_ab", "log_size_ratio",
)


@functools.cache
def _model():
    """The merging network's weights, read once."""
    with resources.files("specseg").joinpath("data/merging.npz").open("rb") as handle:
        with np.load(handle) as data:
            return {name: data[name] for name in data.files}


def boundary_probability(features, model=None):
    """The network's probability of a boundary for rows of :func:`pair_features`."""
    from ._contours import _network

    return _network(features, _model() if model is None else model)


def region_statistics(regions, maps, n_textons):
    """Summable statistics of every region.

    Parameters
    ----------
    regions : (M, N) ndarray of int
        Labels ``0 .. n-1``; -1 (outside a mask) is ignored.
    maps : tuple
        ``(L, a, b, textons)`` of :func:`specseg._features.colour_texture_maps`.
    n_textons : int
        Number of texton classes.

    Returns
    -------
    size : (n,) ndarray of float
    histograms : list of ndarray
        Counts per region: textons ``(n, n_textons)``, then L*, a*, b*
        ``(n, REGION_BINS)``.
    colour : (n, 3) ndarray of float
        Sums of L*, a*, b* per region.
    """
    inside = regions >= 0
    flat = regions[inside]
    n = int(regions.max()) + 1
    size = np.bincount(flat, minlength=n).astype(np.float64)
    textons = maps[3][inside]
    histograms = [np.bincount(flat * n_textons + textons, minlength=n * n_textons)
                  .reshape(n, n_textons).astype(np.float64)]
    colour = np.empty((n, 3))
    for c, (channel, (low, high)) in enumerate(zip(maps[:3], LAB_RANGES, strict=True)):
        values = channel[inside]
        bins = np.clip(((values - low) * (REGION_BINS / (high - low))).astype(np.intp),
                       0, REGION_BINS - 1)
        histograms.append(np.bincount(flat * REGION_BINS + bins, minlength=n * REGION_BINS)
                          .reshape(n, REGION_BINS).astype(np.float64))
        colour[:, c] = np.bincount(flat, weights=values, minlength=n)
    return size, histograms, colour


def pair_sums(regions, boundary, ucm_pairs):
    """Adjacent region pairs and the sums over their shared border.

    Parameters
    ----------
    regions : (M, N) ndarray of int
        Labels ``0 .. n-1``, -1 ignored.
    boundary : (M, N) ndarray of float
        Boundary strength; a border pixel pair counts the larger of its two.
    ucm_pairs : tuple of ndarray
        Per axis, the contour-map height of every forward pixel pair (the
        ``_pair_heights`` of a :class:`specseg._hierarchy.Hierarchy`).

    Returns
    -------
    first, second : (n_pairs,) ndarray of int
        The regions of each pair, ``first < second``, in the order of
        :func:`specseg._hierarchy._leaf_arcs`.
    sums : (n_pairs, 3) ndarray of float
        Border length (pixel pairs), sum of boundary strength, sum of heights.
    """
    from ._hierarchy import _boundary_pairs, _leaf_arcs

    first_pixel, second_pixel, axis = _boundary_pairs(regions)
    first, second, arc = _leaf_arcs(regions.flat[first_pixel], regions.flat[second_pixel],
                                    int(regions.max()) + 1)
    strength = np.maximum(boundary.flat[first_pixel], boundary.flat[second_pixel])
    height = np.empty(first_pixel.size)
    for ax, heights in enumerate(ucm_pairs):
        on_axis = axis == ax
        height[on_axis] = heights[np.unravel_index(first_pixel[on_axis], regions.shape)]
    sums = np.stack([np.bincount(arc, weights=values, minlength=first.size)
                     for values in (np.ones(arc.size), strength, height)], axis=1)
    return first, second, sums


def _chi2(first, second):
    """Chi-squared distance between the rows of two count histograms."""
    p = first / np.maximum(first.sum(axis=-1, keepdims=True), 1.0)
    q = second / np.maximum(second.sum(axis=-1, keepdims=True), 1.0)
    return 0.5 * ((p - q) ** 2 / np.maximum(p + q, 1e-12)).sum(axis=-1)


def pair_features(first, second, sums, size, histograms, colour):
    """Feature rows (``FEATURE_NAMES``) of region pairs, from summed statistics."""
    length = sums[:, 0]
    size_a, size_b = size[first], size[second]
    small, large = np.minimum(size_a, size_b), np.maximum(size_a, size_b)
    delta = np.abs(colour[first] / size_a[:, None] - colour[second] / size_b[:, None])
    columns = [
        sums[:, 1] / length, sums[:, 2] / length, np.log(length), np.log(small),
        np.log(large), length / np.sqrt(small),
        *(_chi2(h[first], h[second]) for h in histograms),
        delta[:, 0], np.hypot(delta[:, 1], delta[:, 2]), np.log(small / large),
    ]
    return np.stack(columns, axis=1)


def learned_merging(regions, maps, boundary, ucm_pairs, *, n_textons, predict=None):
    """Merge regions greedily, least probable boundary first.

    Parameters
    ----------
    regions : (M, N) ndarray of int
        The superpixels, ``0 .. n-1`` (-1 outside a mask).
    maps, boundary, ucm_pairs, n_textons
        As for :func:`region_statistics` and :func:`pair_sums`.
    predict : callable, optional
        Rows of :func:`pair_features` -> probabilities; the shipped network
        by default.

    Returns
    -------
    merges : (n_merges, 2) ndarray of int
        Scipy's linkage numbering: step ``k`` creates node ``n + k``.
    heights : (n_merges,) ndarray of float
        Running maximum of the merged probabilities (non-decreasing).
    first, second : (n_pairs,) ndarray of int
        The adjacent superpixel pairs, and
    pair_height : (n_pairs,) ndarray of float
        the height at which each pair first shares a region (inf if never).

    Examples
    --------
    Two flat grey halves and a third, brighter, column: the two alike merge first.

    >>> regions = np.repeat([[0, 0, 1, 1, 2, 2]], 6, axis=0)
    >>> L = np.where(regions == 2, 90.0, 40.0)
    >>> maps = (L, np.zeros_like(L), np.zeros_like(L), np.zeros(L.shape, int))
    >>> heights = [np.zeros((5, 6)), np.zeros((6, 5))]
    >>> merges, _, _, _, _ = learned_merging(regions, maps, np.zeros(L.shape), heights,
    ...                                      n_textons=1)
    >>> merges.tolist()
    [[0, 1], [2, 3]]
    """
    predict = boundary_probability if predict is None else predict
    n = int(regions.max()) + 1
    size, histograms, colour = region_statistics(regions, maps, n_textons)
    first, second, sums = pair_sums(regions, boundary, ucm_pairs)
    # room for the nodes that merges create
    size = np.r_[size, np.zeros(n)]
    histograms = [np.vstack([h, np.zeros_like(h)]) for h in histograms]
    colour = np.vstack([colour, np.zeros_like(colour)])
    # neighbours[r][o] = (border sums, indices of the superpixel pairs on it)
    neighbours = [{} for _ in range(2 * n)]
    for index, (a, b) in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
        neighbours[a][b] = neighbours[b][a] = (sums[index], [index])
    pair_height = np.full(first.size, np.inf)
    heap = []
    if first.size:
        probability = predict(pair_features(first, second, sums, size, histograms, colour))
        heap = list(zip(probability.tolist(), first.tolist(), second.tolist(), strict=True))
        heapq.heapify(heap)
    alive = np.zeros(2 * n, dtype=bool)
    alive[:n] = True
    merges, heights, top = [], [], 0.0
    while heap:
        probability, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue  # an entry of a region merged since
        node = n + len(merges)
        top = max(top, probability)
        merges.append((min(a, b), max(a, b)))
        heights.append(top)
        pair_height[neighbours[a][b][1]] = top
        alive[a] = alive[b] = False
        alive[node] = True
        size[node] = size[a] + size[b]
        for h in histograms:
            h[node] = h[a] + h[b]
        colour[node] = colour[a] + colour[b]
        joined = {}
        for region in (a, b):
            for other, (border, indices) in neighbours[region].items():
                if other == a or other == b:
                    continue
                del neighbours[other][region]
                if other in joined:
                    joined_border, joined_indices = joined[other]
                    joined[other] = (joined_border + border, joined_indices + indices)
                else:
                    joined[other] = (border, indices)
            neighbours[region] = None
        neighbours[node] = joined
        if joined:
            others = np.fromiter(joined, dtype=np.intp, count=len(joined))
            borders = np.array([joined[o][0] for o in others.tolist()])
            for other, entry in joined.items():
                neighbours[other][node] = entry
            rows = pair_features(np.full(others.size, node), others, borders, size,
                                 histograms, colour)
            for p, other in zip(predict(rows).tolist(), others.tolist(), strict=True):
                heapq.heappush(heap, (p, node, other))
    merges = np.asarray(merges, dtype=np.intp).reshape(-1, 2)
    return merges, np.asarray(heights, dtype=np.float64), first, second, pair_height

"""Segment boundaries measured where the segments meet, and merging by them.

A region graph's normalized cut must return exactly ``k`` segments. When the
image holds fewer than ``k`` clearly separated parts (an object whose grey
level is close to that of its surroundings), the cheapest extra cut often
runs through a large smooth area that is slowly shaded: the weights across a
shading gradient are slightly lower than elsewhere, and a long cut of slightly
weak edges costs the normalized cut less than a short cut around a faint
object. Such a boundary has no real step across it.

Boundary contrast
-----------------
For two adjacent segments ``A`` and ``B`` and the adjacent region pairs
``(i, j)``, ``i`` in ``A`` and ``j`` in ``B``, sharing ``l_ij`` pixel faces,
the contrast of their boundary is

.. math::

    b_{AB} = \\left\\lVert
        \\frac{\\sum l_{ij} \\mu_i}{\\sum l_{ij}} -
        \\frac{\\sum l_{ij} \\mu_j}{\\sum l_{ij}} \\right\\rVert

the difference of the mean features of the two rows of regions that line the
boundary, one on each side. Only regions next to the boundary count, so slow
shading adds at most one region's worth of gradient, however large the
segments; and the noise of the regions averages out before the norm is taken.
The sums add when segments merge, so the greedy merge below updates only the
pairs of the merged segment.

Boundary step
-------------
The contrast is a mean along the boundary, so a short stretch of strong
difference can carry a boundary that elsewhere has none: a cut through a
smooth background that passes along an object of one or two superpixels,
which the cut put on one side, measures the object's edge (on a shaded
1024² frame, 30 times the typical difference of neighbours, though three
quarters of the boundary run through background). The step of the boundary

.. math::

    s_{AB} = \\left\\lVert \\operatorname{median}_{l} \\left(\\mu_i - \\mu_j\\right)
        \\right\\rVert

takes, per feature channel, the median of the differences of the adjacent
region pairs ``(i, j)`` lining the boundary, each pair weighted by its
``l_ij`` faces: a boundary steps by ``s`` only if at least half of its length
steps by that much. Along a real segment boundary every stretch steps alike
and the two measures agree. The step is not additive, so the greedy merge
orders pairs by contrast; the support tests below use the step.

Choosing the partition
----------------------
:func:`supported_partition` compares the spectral partition with the one
found by merging the regions greedily, always the adjacent pair of segments
with the weakest boundary (:func:`merge_regions`). Let ``t`` be the median
difference between the means of adjacent regions (the level of noise and
shading, as most adjacent regions lie inside one segment). The merged
partition replaces the spectral one only when

- ``t`` is at least ``shading`` times its own noise (the pixel noise
  averaged over the regions): something other than noise, such as shading,
  separates neighbouring regions; where noise dominates, greedy merging is
  unreliable and a cut along shading is not the risk;
- the spectral partition's weakest boundary step is below ``factor * t``;
- the merged partition's weakest boundary step is at least ``merged_factor * t``;
- the spectral partition's weakest boundary step is below the merged
  partition's weakest, and even below ``ratio`` times it if it is itself at
  least ``merged_factor * t``.

The spectral cut is the better partition wherever the image supports its
boundaries (greedy merging makes early mistakes it never undoes); a cut
through a shaded background has a boundary no stronger than a few shading
steps between neighbouring regions. The constants were set on shaded frames
(``benchmarks/shading.py``, seeds 0-19) and checked against the scenes of
``benchmarks/quality.py``, whose rows they leave unchanged.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["boundary_contrast", "boundary_step", "merge_regions", "supported_partition"]

#: The fallback applies only where the median difference of the means of
#: adjacent regions is at least this many times its noise: where something
#: other than noise (shading) separates neighbouring regions.
SHADING_FACTOR = 1.5
#: The spectral partition is kept when its weakest boundary contrast is at
#: least this many times that median difference ...
SUPPORT_FACTOR = 6.5
#: ... or when the merged partition's weakest is below this many times it ...
MERGED_FACTOR = 2.5
#: ... or, when the spectral partition's weakest is at least ``MERGED_FACTOR``
#: times it, when it is not below this fraction of the merged one's weakest.
SUPPORT_RATIO = 0.75


def _side_sums(stats, labels):
    """Per adjacent segment pair ``(a, b)``, ``a < b``: the face count, the
    face-weighted sums of the region means on side ``a`` and on side ``b``."""
    i, j = stats.pairs[:, 0], stats.pairs[:, 1]
    a, b = labels[i], labels[j]
    across = (a != b) & (a >= 0) & (b >= 0)
    i, j, a, b = i[across], j[across], a[across], b[across]
    swap = a > b
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    a, b = np.minimum(a, b), np.maximum(a, b)
    length = stats.length[across]
    keys, inverse = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    mean = stats.mean
    faces = np.bincount(inverse, length, minlength=len(keys))
    side_a = np.stack([np.bincount(inverse, length * mean[i, c], minlength=len(keys))
                       for c in range(mean.shape[1])], axis=1)
    side_b = np.stack([np.bincount(inverse, length * mean[j, c], minlength=len(keys))
                       for c in range(mean.shape[1])], axis=1)
    return keys, faces, side_a, side_b


def boundary_contrast(stats, labels):
    """Contrast across the boundary of every pair of adjacent segments.

    Parameters
    ----------
    stats : RegionStatistics
        Statistics of the regions (the nodes of a region graph).
    labels : (n_regions,) ndarray of int
        Segment of every region (-1: none).

    Returns
    -------
    pairs : (m, 2) ndarray of int
        Adjacent segments ``(a, b)``, ``a < b``, sorted.
    contrast : (m,) ndarray
        ``b_AB`` of the module notes, in feature units.

    Examples
    --------
    >>> from specseg._regions import RegionStatistics
    >>> features = np.zeros((4, 6, 1))
    >>> features[:, 4:] = 1.0
    >>> regions = np.repeat(np.arange(3), 2)[None, :].repeat(4, axis=0)
    >>> stats = RegionStatistics.from_labels(features, regions)
    >>> pairs, contrast = boundary_contrast(stats, np.array([0, 0, 1]))
    >>> pairs.tolist(), contrast.round(2).tolist()
    ([[0, 1]], [1.0])
    """
    labels = np.asarray(labels)
    keys, faces, side_a, side_b = _side_sums(stats, labels)
    return keys, np.linalg.norm(side_a - side_b, axis=1) / np.maximum(faces, 1e-300)


def boundary_step(stats, labels):
    """Median step across the boundary of every pair of adjacent segments.

    Parameters
    ----------
    stats : RegionStatistics
        Statistics of the regions (the nodes of a region graph).
    labels : (n_regions,) ndarray of int
        Segment of every region (-1: none).

    Returns
    -------
    pairs : (m, 2) ndarray of int
        Adjacent segments ``(a, b)``, ``a < b``, sorted.
    step : (m,) ndarray
        ``s_AB`` of the module notes: the norm of the face-weighted median,
        per channel, of ``mu_i - mu_j`` over the region pairs that line the
        boundary, in feature units.

    Examples
    --------
    A boundary that steps by 1 along two thirds of its length and not at all
    along the rest steps by 1; its contrast (the mean) is only 2/3:

    >>> from specseg._regions import RegionStatistics
    >>> features = np.zeros((3, 4, 1))
    >>> features[:2, 2:] = 1.0
    >>> regions = np.array([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]])
    >>> stats = RegionStatistics.from_labels(features, regions)
    >>> segments = np.array([0, 1, 0, 1, 0, 1])
    >>> boundary_step(stats, segments)[1].tolist()
    [1.0]
    >>> boundary_contrast(stats, segments)[1].round(2).tolist()
    [0.67]
    """
    labels = np.asarray(labels)
    i, j = stats.pairs[:, 0], stats.pairs[:, 1]
    a, b = labels[i], labels[j]
    across = (a != b) & (a >= 0) & (b >= 0)
    i, j, a, b = i[across], j[across], a[across], b[across]
    swap = a > b
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    length = stats.length[across]
    keys, group = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1), axis=0,
                            return_inverse=True)
    group = group.ravel()
    mean = stats.mean
    difference = mean[i] - mean[j]
    total = np.bincount(group, length, minlength=len(keys))
    before = np.concatenate([[0.0], np.cumsum(total)[:-1]])  # faces of the earlier groups
    median = np.zeros((len(keys), mean.shape[1]))
    for c in range(mean.shape[1]):
        order = np.lexsort((difference[:, c], group))
        g = group[order]
        # the first pair of each group at or past half its faces
        past = np.flatnonzero(np.cumsum(length[order]) - before[g] >= total[g] / 2)
        _, first = np.unique(g[past], return_index=True)
        median[:, c] = difference[order[past[first]], c]
    return keys, np.linalg.norm(median, axis=1)


def weakest_boundary(stats, labels):
    """The smallest boundary step between adjacent segments (inf if none touch)."""
    _, step = boundary_step(stats, labels)
    return float(step.min()) if step.size else np.inf


def merge_regions(stats, n_segments, labels=None):
    """Merge adjacent segments, weakest boundary first, down to ``n_segments``.

    Parameters
    ----------
    stats : RegionStatistics
        Statistics of the regions.
    n_segments : int
        Number of segments to keep.
    labels : (n_regions,) ndarray of int, optional
        Starting segments (default: every region on its own).

    Returns
    -------
    labels : (n_regions,) ndarray of int or None
        Segments ``0 .. n_segments - 1`` (numbered by their smallest region),
        or None when the adjacency leaves more than ``n_segments`` parts that
        never touch.

    Notes
    -----
    Each step merges the adjacent pair with the smallest boundary contrast
    (:func:`boundary_contrast`); the face counts and side sums of the merged
    segment's boundaries are the sums of its parts', so a step updates only
    those. Ties go to the pair of smaller ids.

    Examples
    --------
    >>> from specseg._regions import RegionStatistics
    >>> features = np.array([0.0, 0.1, 0.9, 1.0])[None, :, None].repeat(2, axis=0)
    >>> regions = np.arange(4)[None, :].repeat(2, axis=0)
    >>> stats = RegionStatistics.from_labels(features, regions)
    >>> merge_regions(stats, 2).tolist()
    [0, 0, 1, 1]
    """
    labels = np.arange(stats.n_regions) if labels is None else np.asarray(labels).copy()
    keys, faces, side_a, side_b = _side_sums(stats, labels)
    # boundary (a, b) with a < b: [faces, sum on a's side, sum on b's side]
    bounds = {(int(a), int(b)): [f, sa, sb]
              for (a, b), f, sa, sb in zip(keys, faces, side_a, side_b, strict=True)}
    neighbours = {}
    for a, b in bounds:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    alive = set(int(s) for s in np.unique(labels[labels >= 0]))
    heap = [(_contrast(v), a, b) for (a, b), v in bounds.items()]
    heapq.heapify(heap)
    parent = {}
    while len(alive) > n_segments and heap:
        value, a, b = heapq.heappop(heap)
        entry = bounds.get((a, b))
        if entry is None or _contrast(entry) != value:
            continue  # stale: the pair merged or changed since it was pushed
        _absorb(bounds, neighbours, a, b)
        alive.discard(b)
        parent[b] = a
        for x in neighbours[a]:
            key = (min(a, x), max(a, x))
            heapq.heappush(heap, (_contrast(bounds[key]), *key))
    if len(alive) > n_segments:
        return None
    root = np.arange(labels.max() + 1 if labels.size else 0)
    for b in sorted(parent):  # parent[b] < b: its root is final by now
        root[b] = root[parent[b]]
    merged = np.where(labels >= 0, root[np.maximum(labels, 0)], -1)
    _, dense = np.unique(merged[merged >= 0], return_inverse=True)
    merged[merged >= 0] = dense.ravel()
    return merged


def _contrast(entry):
    """Contrast of a boundary entry: the norm of the difference of its side means."""
    faces, side_a, side_b = entry
    return float(np.linalg.norm(side_a - side_b) / faces)


def _absorb(bounds, neighbours, a, b):
    """Merge segment ``b`` into ``a`` (``a < b``): move b's boundaries to a."""
    del bounds[(a, b)]
    neighbours[a].discard(b)
    for x in neighbours.pop(b):
        if x == a:
            continue
        faces, side_b, side_x = _oriented(bounds.pop((min(b, x), max(b, x))), b < x)
        neighbours[x].discard(b)
        neighbours[x].add(a)
        neighbours[a].add(x)
        key = (min(a, x), max(a, x))
        old = bounds.get(key)
        if old is None:
            old = [0.0, np.zeros_like(side_b), np.zeros_like(side_b)]
        own, other = (1, 2) if a < x else (2, 1)
        old[0] = old[0] + faces
        old[own] = old[own] + side_b
        old[other] = old[other] + side_x
        bounds[key] = old


def _oriented(entry, first):
    """``(faces, sum on this side, sum on the other side)`` of a boundary entry."""
    faces, side_lo, side_hi = entry
    return (faces, side_lo, side_hi) if first else (faces, side_hi, side_lo)


def typical_contrast(stats):
    """Medians, over adjacent regions, of the norm of the difference of their
    means and of the standard deviation of that difference from pixel noise.

    Returns ``(contrast, noise)``, ``(0, 0)`` for a graph without edges.
    """
    i, j = stats.pairs[:, 0], stats.pairs[:, 1]
    if i.size == 0:
        return 0.0, 0.0
    mean = stats.mean
    count = np.maximum(stats.count, 1)
    mean_variance = np.maximum(stats.total_sq / count[:, None] - mean**2, 0.0).sum(axis=1) / count
    contrast = np.linalg.norm(mean[i] - mean[j], axis=1)
    noise = np.sqrt(mean_variance[i] + mean_variance[j])
    return float(np.median(contrast)), float(np.median(noise))


def supported_partition(stats, labels, n_segments, *, shading=SHADING_FACTOR,
                        factor=SUPPORT_FACTOR, merged_factor=MERGED_FACTOR,
                        ratio=SUPPORT_RATIO):
    """The spectral partition, or the greedy merge where that is better supported.

    Parameters
    ----------
    stats : RegionStatistics
        Statistics of the regions.
    labels : (n_regions,) ndarray of int
        The spectral partition of the regions into ``n_segments`` segments.
    n_segments : int
        Number of segments.
    shading, factor, merged_factor, ratio : float, optional
        See the module notes.

    Returns
    -------
    labels : (n_regions,) ndarray of int
        ``labels`` itself, or the partition of :func:`merge_regions` when
        that is supported and the weakest boundary of ``labels`` is clearly
        weaker (see the module notes).
    """
    labels = np.asarray(labels)
    if n_segments < 2 or int(labels.max()) + 1 != n_segments:
        return labels
    typical, noise = typical_contrast(stats)
    if typical < shading * noise:
        return labels  # neighbours differ by noise: no shading to cut along
    weakest = weakest_boundary(stats, labels)
    if weakest >= factor * typical:
        return labels  # every boundary is supported
    merged = merge_regions(stats, n_segments)
    if merged is None:
        return labels
    alternative = weakest_boundary(stats, merged)
    if alternative < merged_factor * typical:
        return labels  # the merged partition is no better supported
    # a spectral boundary below the merged one's bar loses to any stronger one
    limit = alternative if weakest < merged_factor * typical else ratio * alternative
    return merged if weakest < limit else labels

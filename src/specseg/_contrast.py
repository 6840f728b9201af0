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

Straddling regions
------------------
A superpixel that straddles an object edge holds a few pixels of the other
object, which pull its mean several typical neighbour differences away from
its side. The greedy merge then keeps it as a segment of its own, and its
boundary steps make the merged partition look supported, while a faint
object is folded into the background. :func:`robust_partition` (what
``segment`` calls) therefore first runs :func:`supported_partition` on
:func:`trimmed_statistics`, where each region whose variance exceeds twice
the median variance (the variance between its two modes exceeds the noise
variance) counts only its majority mode; if that replaces the spectral
partition, it is the answer, otherwise the choice made with the plain
statistics stands.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["boundary_contrast", "boundary_step", "merge_regions", "robust_partition",
           "supported_partition", "trimmed_statistics"]

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


def _crossing_pairs(stats, labels):
    """The region pairs that line a boundary between two segments.

    Returns ``(keys, group, i, j, length)``: the adjacent segment pairs
    ``(a, b)``, ``a < b`` (sorted, one row each); for every region pair that
    crosses a boundary, the row of its segment pair, its region on side ``a``
    (``i``) and on side ``b`` (``j``), and its face count.
    """
    i, j = stats.pairs[:, 0], stats.pairs[:, 1]
    a, b = labels[i], labels[j]
    across = (a != b) & (a >= 0) & (b >= 0)
    i, j, a, b = i[across], j[across], a[across], b[across]
    swap = a > b
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    keys, group = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1), axis=0,
                            return_inverse=True)
    return keys, group.ravel(), i, j, stats.length[across]


def _side_sums(stats, labels):
    """Per adjacent segment pair ``(a, b)``, ``a < b``: the face count, the
    face-weighted sums of the region means on side ``a`` and on side ``b``."""
    keys, inverse, i, j, length = _crossing_pairs(stats, labels)
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
    keys, group, i, j, length = _crossing_pairs(stats, np.asarray(labels))
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


def trimmed_statistics(features, regions, stats, *, sigma=1.0):
    """Region statistics without the minority mode of impure regions.

    Parameters
    ----------
    features : (..., C) ndarray
        Feature image.
    regions : (...) ndarray of int
        Region of every pixel, ``0 .. n - 1`` (-1: none).
    stats : RegionStatistics
        Statistics of ``regions``.
    sigma : float, optional
        Gaussian smoothing (pixels) of the features that the two modes are
        told apart on (single pixels' noise would scatter them).

    Returns
    -------
    trimmed : RegionStatistics
        ``stats`` with the counts and sums of every impure region taken over
        its majority mode only; the adjacency (pairs, lengths) is unchanged.

    Notes
    -----
    A superpixel that straddles an object edge holds a few pixels of the
    other object, which pull its mean several typical neighbour differences
    off its own side: the greedy merge then keeps it as a segment of its own
    (module notes). Such a region is *impure*: its variance exceeds twice
    the median variance of the regions, i.e. the variance between its modes
    exceeds the noise variance (most regions lie inside one object, so the
    median measures the noise). Its pixels are divided by 2-means on the
    smoothed features, started from the split along their principal
    direction, and the smaller mode is left out of its statistics.

    Examples
    --------
    Eight strips of five columns; an edge runs through the seventh, two of
    whose columns lie on the dark side:

    >>> from specseg._regions import RegionStatistics
    >>> rng = np.random.default_rng(0)
    >>> features = 0.05 * rng.standard_normal((40, 40, 1))
    >>> features[:, 32:] += 1.0
    >>> regions = np.repeat(np.arange(8), 5)[None, :].repeat(40, axis=0)
    >>> stats = RegionStatistics.from_labels(features, regions)
    >>> stats.mean[6].round(1).tolist(), float(stats.count[6])
    ([0.6], 200.0)
    >>> trimmed = trimmed_statistics(features, regions, stats)
    >>> trimmed.mean[6].round(1).tolist(), float(trimmed.count[6])
    ([1.0], 120.0)
    >>> bool(np.allclose(trimmed.mean[:6], stats.mean[:6]))
    True
    """
    from scipy import ndimage

    from ._regions import MIN_REGION_PIXELS, RegionStatistics

    n = stats.n_regions
    count = np.maximum(stats.count, 1)
    variance = np.maximum(stats.total_sq / count[:, None] - stats.mean**2, 0.0).sum(axis=1)
    sizable = stats.count >= MIN_REGION_PIXELS
    noise = float(np.median(variance[sizable])) if sizable.any() else 0.0
    # a region split in two keeps at least one region's worth of pixels
    impure = np.flatnonzero((variance > 2 * noise) & (stats.count >= 2 * MIN_REGION_PIXELS))
    if impure.size == 0:
        return stats
    kept = np.array(regions, copy=True)
    boxes = ndimage.find_objects(kept + 1)
    for r in impure:
        box = boxes[r]
        if box is None:
            continue
        # smooth a margin around the box so that its edges are smoothed alike
        pad = tuple(slice(max(0, b.start - 2 * int(np.ceil(sigma))), b.stop
                          + 2 * int(np.ceil(sigma))) for b in box)
        inner = tuple(slice(b.start - p.start, b.stop - p.start)
                      for b, p in zip(box, pad, strict=True))
        local = np.stack([ndimage.gaussian_filter(features[pad][..., c].astype(np.float64),
                                                  sigma)[inner]
                          for c in range(features.shape[-1])], axis=-1)
        member = regions[box] == r
        values = local[member]
        spread = values - values.mean(axis=0)
        side = spread @ np.linalg.svd(spread, full_matrices=False)[2][0] > 0
        for _ in range(20):  # 2-means; converges in a few steps
            if side.all() or not side.any():
                break
            a, b = values[side].mean(axis=0), values[~side].mean(axis=0)
            new = ((values - a) ** 2).sum(axis=1) < ((values - b) ** 2).sum(axis=1)
            if (new == side).all():
                break
            side = new
        if side.all() or not side.any():
            continue
        if side.sum() > side.size / 2:
            side = ~side
        minority = np.zeros(member.shape, dtype=bool)
        minority[member] = side
        kept[box][minority] = -1
    part = RegionStatistics.from_labels(features, kept, n)
    return RegionStatistics(part.count, part.total, part.total_sq, stats.pairs, stats.length,
                            stats.contrast)


def robust_partition(features, regions, stats, labels, n_segments, **options):
    """:func:`supported_partition`, first on the trimmed statistics of the regions.

    Parameters
    ----------
    features : (..., C) ndarray
        Feature image.
    regions : (...) ndarray of int
        Region of every pixel (-1: none).
    stats : RegionStatistics
        Statistics of ``regions``.
    labels : (n_regions,) ndarray of int
        The spectral partition of the regions into ``n_segments`` segments.
    n_segments : int
        Number of segments.
    **options
        Passed to :func:`supported_partition`.

    Returns
    -------
    labels : (n_regions,) ndarray of int
        The partition :func:`supported_partition` chooses with the region
        means of :func:`trimmed_statistics` (and the typical contrast and
        noise of ``stats``) if that replaces the spectral one, else the one it
        chooses with ``stats``.

    Notes
    -----
    The trimmed statistics are computed only where the spectral partition's
    weakest boundary is unsupported (where :func:`supported_partition` would
    try the greedy merge at all). Trimmed means keep the greedy merge from
    spending a segment on a region that straddles an object edge, and the
    boundary steps measured with them do not credit such a region; where they
    support no merged partition, the choice is the one made with the plain
    means, as before.
    """
    labels = np.asarray(labels)
    if _unsupported(stats, labels, n_segments, **options) is None:
        return labels
    trimmed = trimmed_statistics(features, regions, stats)
    if trimmed is not stats:
        robust = supported_partition(trimmed, labels, n_segments, typical=stats, **options)
        if robust is not labels:
            return robust
    return supported_partition(stats, labels, n_segments, **options)


def _unsupported(stats, labels, n_segments, *, shading=SHADING_FACTOR, factor=SUPPORT_FACTOR,
                 typical=None, **_):
    """``(typical, weakest)`` where :func:`supported_partition` tries the greedy
    merge, None where it keeps ``labels`` at once.

    ``typical`` is the typical neighbour difference (of the ``typical``
    statistics, default ``stats``), ``weakest`` the weakest boundary step of
    ``labels``.
    """
    if n_segments < 2 or int(labels.max()) + 1 != n_segments:
        return None
    typical, noise = typical_contrast(stats if typical is None else typical)
    if typical < shading * noise:
        return None  # neighbours differ by noise: no shading to cut along
    weakest = weakest_boundary(stats, labels)
    if weakest >= factor * typical:
        return None  # every boundary is supported
    return typical, weakest


def supported_partition(stats, labels, n_segments, *, shading=SHADING_FACTOR,
                        factor=SUPPORT_FACTOR, merged_factor=MERGED_FACTOR,
                        ratio=SUPPORT_RATIO, typical=None):
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
    typical : RegionStatistics, optional
        Statistics to measure the typical neighbour difference and its noise
        on (default ``stats``; :func:`robust_partition` passes the untrimmed
        ones, whose spreads the trimmed statistics understate).

    Returns
    -------
    labels : (n_regions,) ndarray of int
        ``labels`` itself, or the partition of :func:`merge_regions` when
        that is supported and the weakest boundary of ``labels`` is clearly
        weaker (see the module notes).
    """
    labels = np.asarray(labels)
    found = _unsupported(stats, labels, n_segments, shading=shading, factor=factor,
                         typical=typical)
    if found is None:
        return labels
    typical, weakest = found
    merged = merge_regions(stats, n_segments)
    if merged is None:
        return labels
    alternative = weakest_boundary(stats, merged)
    if alternative < merged_factor * typical:
        return labels  # the merged partition is no better supported
    # a spectral boundary below the merged one's bar loses to any stronger one
    limit = alternative if weakest < merged_factor * typical else ratio * alternative
    return merged if weakest < limit else labels

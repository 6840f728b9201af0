"""Segment boundaries measured where the segments meet, and merging of region models.

A region graph's normalized cut must return exactly ``k`` segments. When the
image holds fewer than ``k`` clearly separated parts (an object whose grey
level is close to that of its surroundings), the cheapest extra cut often
runs through a large smooth area that is slowly shaded: the weights across a
shading gradient are slightly lower than elsewhere, and a long cut of slightly
weak edges costs the normalized cut less than a short cut around a faint
object. Such a boundary has no real step across it.

Boundary step
-------------
For two adjacent segments ``A`` and ``B`` and the adjacent region pairs
``(i, j)``, ``i`` in ``A`` and ``j`` in ``B``, sharing ``l_ij`` pixel faces,
the step of their boundary ``s_AB`` is the lower quartile
(``STEP_QUANTILE``) of the differences ``|mu_i - mu_j|`` of the mean
features of the pairs lining the boundary, each pair weighted by its
``l_ij`` faces: a boundary steps by ``s`` only if at least three quarters
of its length step by that much. Only regions next to the boundary count,
so slow shading adds at most one region's worth of gradient, however large
the segments. Along an object's edge every stretch steps; a cut that runs
a quarter of its length or more through smooth background does not step,
however strongly the rest of it (along a faint object that the cut took
with a piece of background beside it) does.

Merging affine region models
----------------------------
Where shading may mislead the cut, the partition can come from a model of
the image instead: each segment is an affine function of position (a plane,
for a grey frame) plus noise, which a slow shading gradient fits exactly.
:func:`affine_merge` merges adjacent regions greedily, always the pair whose
merge raises the residual sum of squares least (Ward's criterion with
planes; a greedy descent on the piecewise-affine Mumford-Shah energy,
Koepfler, Lopez & Morel 1994). A faint object costs its area times its
contrast squared to merge into the background, however slowly the
background varies, while pieces of a shaded background merge at the cost of
noise. :func:`affine_competition` then moves every region to the adjacent
segment whose fit suits it best, undoing what a segment took while its own
fit was still unsure (region competition, Zhu & Yuille 1996).

Choosing the partition
----------------------
:func:`robust_partition` keeps the spectral partition unless all of these
hold:

- *shading*: the median difference ``t`` between the means of adjacent
  regions is at least ``shading`` times its own noise (the pixel noise
  averaged over the regions). Something other than noise separates
  neighbouring regions; where noise dominates, a cut along shading is not
  the risk, and a greedy merge of noisy regions is less reliable than the
  cut (on noisy scenes of one grey level, such as the masked circles, the
  merge fits noise).
- *the model holds*: the median superpixel's residual variance under its
  own affine fit is at most ``MODEL_FIT_FACTOR`` times the variance of the
  pixel noise (estimated from the finest diagonal differences). Where planes
  do not fit even the superpixels (textures), merging by the model is no
  better founded than the cut.
- *the cut is doubtful*: the spectral partition's weakest boundary step is
  below ``factor * t``, no stronger than a few shading steps between
  neighbouring regions (a cut through a shaded background); or the merged
  partition's residual sum of squares is smaller than the spectral
  partition's by more than ``switch`` superpixels' worth of noise energy
  (``switch * (pixels / regions) * noise**2``), so a cut whose boundaries
  all step (it joined a faint object to a piece of the background next to
  it) still gives way. A greedy partition always fits a little better than
  another, by selecting among noisy costs; on the shaded frames that gain
  is at most a fifth of the bar, where a wrong cut's is three times it.

Straddling regions
------------------
A superpixel that straddles an object edge holds a few pixels of the other
object. Its fit is poor under either neighbour's model, so merging it costs
more than merging a faint object, and it would be left as a segment of its
own. The sums of the model are therefore taken over each region's majority
mode (:func:`majority_regions`); the pixels left out follow their region's
segment, and the boundary pass of the region mode puts them right.

The constants were set on shaded frames (``benchmarks/shading.py``, seeds
0-19) and checked against the scenes of ``benchmarks/quality.py``.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["AffineMoments", "affine_competition", "affine_merge", "boundary_step",
           "majority_regions", "robust_partition"]

#: The spectral partition can be unsupported only where the median difference
#: of the means of adjacent regions is at least this many times its noise:
#: where something other than noise (shading) separates neighbouring regions.
SHADING_FACTOR = 1.5
#: ... and only when its weakest boundary step is below this many times that
#: median difference.
SUPPORT_FACTOR = 6.5
#: A spectral partition whose boundaries are supported still gives way when
#: the affine models of the merged partition leave a residual sum of squares
#: smaller by more than this many superpixels' worth of noise energy (gains
#: on shaded 512² frames: 3.1 where the cut is wrong, at most 0.17 elsewhere).
SWITCH_FACTOR = 1.0
#: The step of a boundary is this face-weighted quantile of the steps along it.
STEP_QUANTILE = 0.25
#: Ridge, relative to a region's pixel count, that keeps the affine fit of a
#: region of one pixel or one row solvable.
AFFINE_RIDGE = 1e-6
#: The model is used only where the median superpixel's residual variance
#: under its own affine fit is at most this many times the pixel noise
#: variance (on shaded frames 0.98-1.0, on striped textures 1.8-3.1).
MODEL_FIT_FACTOR = 1.2
#: The affine sums of larger frames are taken over a regular sample of at most
#: this many pixels (see ``AffineMoments.from_labels``).
MOMENT_PIXELS = 1 << 20
#: Pixels per slab when the affine sums are taken over a large frame.
SLAB_PIXELS = 1 << 20
#: Most rounds of :func:`affine_competition` (it settles in two to five).
COMPETITION_ROUNDS = 10


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


def boundary_step(stats, labels, *, quantile=STEP_QUANTILE):
    """The step across the boundary of every pair of adjacent segments.

    Parameters
    ----------
    stats : RegionStatistics
        Statistics of the regions (the nodes of a region graph).
    labels : (n_regions,) ndarray of int
        Segment of every region (-1: none).
    quantile : float, optional
        Which face-weighted quantile of the steps along the boundary.

    Returns
    -------
    pairs : (m, 2) ndarray of int
        Adjacent segments ``(a, b)``, ``a < b``, sorted.
    step : (m,) ndarray
        ``s_AB`` of the module notes: the face-weighted ``quantile`` of
        ``|mu_i - mu_j|`` over the region pairs that line the boundary, in
        feature units.

    Examples
    --------
    A boundary that steps by 1 along four fifths of its length steps by 1; one
    that steps along two thirds of it does not:

    >>> from specseg._regions import RegionStatistics
    >>> features = np.zeros((5, 4, 1))
    >>> features[:4, 2:] = 1.0
    >>> regions = np.arange(10).reshape(5, 2).repeat(2, axis=1)
    >>> stats = RegionStatistics.from_labels(features, regions)
    >>> segments = np.tile([0, 1], 5)
    >>> boundary_step(stats, segments)[1].tolist()
    [1.0]
    >>> stats = RegionStatistics.from_labels(features[2:], regions[2:] - 4)
    >>> boundary_step(stats, segments[:6])[1].tolist()
    [0.0]
    """
    keys, group, i, j, length = _crossing_pairs(stats, np.asarray(labels))
    step = np.linalg.norm(stats.mean[i] - stats.mean[j], axis=1)
    total = np.bincount(group, length, minlength=len(keys))
    before = np.concatenate([[0.0], np.cumsum(total)[:-1]])  # faces of the earlier groups
    order = np.lexsort((step, group))
    g = group[order]
    # the first pair of each group at or past the quantile of its faces
    past = np.flatnonzero(np.cumsum(length[order]) - before[g] >= quantile * total[g])
    _, first = np.unique(g[past], return_index=True)
    return keys, step[order[past[first]]]


def weakest_boundary(stats, labels):
    """The smallest boundary step between adjacent segments (inf if none touch)."""
    _, step = boundary_step(stats, labels)
    return float(step.min()) if step.size else np.inf


def typical_contrast(stats):
    """Medians, over adjacent regions, of the norm of the difference of their
    means and of the standard deviation of that difference from pixel noise.

    Returns ``(contrast, noise)``, ``(0, 0)`` for a graph without edges.
    """
    i, j = stats.pairs[:, 0], stats.pairs[:, 1]
    if i.size == 0:
        return 0.0, 0.0
    mean = stats.mean
    mean_variance = stats.variance / np.maximum(stats.count, 1)
    contrast = np.linalg.norm(mean[i] - mean[j], axis=1)
    noise = np.sqrt(mean_variance[i] + mean_variance[j])
    return float(np.median(contrast)), float(np.median(noise))


def majority_regions(features, regions, stats, *, sigma=1.0):
    """The regions without the minority mode of every impure region.

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
    kept : ndarray of int
        ``regions`` with the pixels of every impure region's smaller mode set
        to -1 (``regions`` itself when no region is impure).

    Notes
    -----
    A superpixel that straddles an object edge holds a few pixels of the
    other object, which pull its statistics off its own side (module notes).
    Such a region is *impure*: its variance exceeds twice the median variance
    of the regions, i.e. the variance between its modes exceeds the noise
    variance (most regions lie inside one object, so the median measures the
    noise). Its pixels are divided by 2-means on the smoothed features,
    started from the split along their principal direction, and the smaller
    mode is dropped.

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
    >>> kept = majority_regions(features, regions, stats)
    >>> int((kept == 6).sum()), int((kept == -1).sum()), bool((kept[:, 32:35] == 6).all())
    (120, 80, True)
    """
    return drop_minorities(features, regions, impure_regions(stats), sigma=sigma)


def impure_regions(stats):
    """The regions of :func:`majority_regions` that are impure: variance above
    twice the median variance of the regions of ``MIN_REGION_PIXELS`` pixels or
    more, and at least twice that many pixels."""
    from ._regions import MIN_REGION_PIXELS

    variance = stats.variance
    sizable = stats.count >= MIN_REGION_PIXELS
    noise = float(np.median(variance[sizable])) if sizable.any() else 0.0
    # a region split in two keeps at least one region's worth of pixels
    return np.flatnonzero((variance > 2 * noise) & (stats.count >= 2 * MIN_REGION_PIXELS))


def drop_minorities(features, regions, impure, *, sigma=1.0):
    """``regions`` with the smaller mode of each region in ``impure`` set to -1
    (``regions`` itself when ``impure`` is empty); see :func:`majority_regions`."""
    from scipy import ndimage

    if len(impure) == 0:
        return regions
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
    return kept


class AffineMoments:
    """Sums that fit every region's features by an affine function of position.

    For a region with pixels at (scaled) positions ``x`` and features
    ``f``, with ``phi = (1, x_1, ..., x_d)``: ``gram = sum phi phi^T``,
    ``cross = sum phi f^T`` and ``energy = sum |f|^2``. All three add when
    regions merge, and the residual sum of squares of the least-squares fit
    ``f ~ A^T phi`` is ``energy - trace(cross^T gram^-1 cross)``.

    Parameters
    ----------
    gram : (n, d + 1, d + 1) ndarray
    cross : (n, d + 1, C) ndarray
    energy : (n,) ndarray
    """

    def __init__(self, gram, cross, energy):
        self.gram, self.cross, self.energy = gram, cross, energy

    @classmethod
    def from_labels(cls, features, regions, n_regions, *, max_pixels=None, origin=None,
                    shape=None):
        """The sums of every region ``0 .. n_regions - 1`` of ``regions`` (-1: none).

        Above ``max_pixels`` pixels (default ``MOMENT_PIXELS``) the sums are
        taken over every ``s``-th pixel along each axis, the least ``s`` that
        samples at most that many: a plane fitted to a few thousand pixels of a
        region is as good as one fitted to all of them, and every measure made
        with the sums (costs, residuals, their ratio to the noise) is relative
        to the pixels summed. Slabs of about ``SLAB_PIXELS`` pixels along the
        first axis keep the temporaries small.

        ``regions`` may be a block at ``origin`` of an image of ``shape`` (the
        blockwise path): the sample and the positions are then the whole
        image's, so that the sums of the blocks add up to those of the image.
        """
        regions = np.asarray(regions)
        shape = regions.shape if shape is None else tuple(shape)
        origin = (0,) * regions.ndim if origin is None else tuple(origin)
        limit = MOMENT_PIXELS if max_pixels is None else max_pixels
        step = 1
        while int(np.prod([-(-n // step) for n in shape])) > limit:
            step += 1
        # the image's every step-th pixel: the first one in the block, then its index
        # on the image's sample grid
        first = [-o % step for o in origin]
        grid = [(o + f) // step for o, f in zip(origin, first, strict=True)]
        sample = tuple(slice(f, None, step) for f in first)
        regions, features = regions[sample], features[sample]
        d = regions.ndim + 1
        n_channels = features.shape[-1]
        gram = np.zeros((n_regions, d, d))
        cross = np.zeros((n_regions, d, n_channels))
        energy = np.zeros(n_regions)
        # positions scaled to [0, 1) keep the normal equations well conditioned
        scale = 1.0 / max(-(-n // step) for n in shape)
        rows = max(1, SLAB_PIXELS // max(1, int(np.prod(regions.shape[1:]))))
        for start in range(0, regions.shape[0], rows):
            part = regions[start:start + rows]
            inside = part >= 0
            flat = part[inside]
            position = np.indices(part.shape)
            position[0] += start
            for axis, offset in enumerate(grid):
                if offset:
                    position[axis] += offset
            phi = [np.ones(flat.size)] + [scale * axis[inside] for axis in position]
            del position
            values = features[start:start + rows][inside].astype(np.float64)
            for p in range(d):
                for q in range(p, d):
                    gram[:, p, q] += np.bincount(flat, phi[p] * phi[q], minlength=n_regions)
                for c in range(n_channels):
                    cross[:, p, c] += np.bincount(flat, phi[p] * values[:, c],
                                                  minlength=n_regions)
            energy += np.bincount(flat, (values**2).sum(axis=1), minlength=n_regions)
        lower = np.tril_indices(d, -1)
        gram[:, lower[0], lower[1]] = gram[:, lower[1], lower[0]]
        return cls(gram, cross, energy)

    def coefficients(self, gram, cross):
        """Least-squares coefficients ``gram^-1 cross`` of stacked sums (a tiny
        ridge keeps regions of one pixel or one row solvable)."""
        d = gram.shape[-1]
        ridge = AFFINE_RIDGE * np.maximum(gram[..., 0, 0], 1.0)[..., None, None] * np.eye(d)
        return np.linalg.solve(gram + ridge, cross)

    def residual(self, gram, cross, energy):
        """Residual sum of squares of the fit of stacked sums."""
        coef = self.coefficients(gram, cross)
        return energy - (cross * coef).sum(axis=(-2, -1))

    def fits(self, noise, *, factor=None):
        """Whether the median region's residual variance under its own affine
        fit is at most ``factor`` (default ``MODEL_FIT_FACTOR``) times ``noise**2``."""
        factor = MODEL_FIT_FACTOR if factor is None else factor
        count = self.gram[:, 0, 0]
        sizable = count > self.gram.shape[-1]
        if not sizable.any() or noise <= 0:
            return False
        residual = self.residual(self.gram[sizable], self.cross[sizable], self.energy[sizable])
        return bool(np.median(residual / count[sizable]) <= factor * noise**2)

    def grouped(self, labels):
        """``(gram, cross, energy)`` summed over the regions of each segment of
        ``labels`` (one segment per region, ``0 .. k - 1``; -1: left out)."""
        labels = np.asarray(labels)
        inside = labels >= 0
        k = int(labels.max()) + 1 if inside.any() else 0
        gram = np.zeros((k,) + self.gram.shape[1:])
        cross = np.zeros((k,) + self.cross.shape[1:])
        np.add.at(gram, labels[inside], self.gram[inside])
        np.add.at(cross, labels[inside], self.cross[inside])
        energy = np.bincount(labels[inside], self.energy[inside], minlength=k)
        return gram, cross, energy

    def partition_residual(self, labels):
        """Residual sum of squares of one affine fit per segment of ``labels``."""
        return float(self.residual(*self.grouped(labels)).sum())


def affine_merge(moments, pairs, n_segments):
    """Merge adjacent regions, cheapest first, down to ``n_segments`` segments.

    Parameters
    ----------
    moments : AffineMoments
        Sums of the regions.
    pairs : (m, 2) ndarray of int
        Adjacent regions.
    n_segments : int
        Number of segments to keep.

    Returns
    -------
    labels : (n_regions,) ndarray of int or None
        Segments ``0 .. n_segments - 1`` (numbered by their smallest region),
        or None when the adjacency leaves more than ``n_segments`` parts that
        never touch.

    Notes
    -----
    The cost of a merge is the increase of the residual sum of squares when
    one affine function of position replaces the two (Ward's criterion, with
    planes instead of constants: a greedy descent on the piecewise-affine
    Mumford-Shah energy [1]_). Two parts of one slowly shaded surface merge
    at the cost of noise; a faint object merged into its surroundings costs
    its area times its contrast squared, and an object cannot be fitted by
    the plane of the background around it. The sums of a merged segment are
    the sums of its parts, so a step updates only its pairs. Ties go to the
    pair of smaller ids.

    References
    ----------
    .. [1] G. Koepfler, C. Lopez and J.-M. Morel, "A multiscale algorithm for
           image segmentation by variational method", SIAM Journal on
           Numerical Analysis 31(1), 1994. :doi:`10.1137/0731014`

    Examples
    --------
    A ramp across eight columns of regions and a square of two columns that
    steps off it: the ramp stays whole, the square is the other segment.

    >>> image = np.repeat(np.linspace(0.0, 0.7, 8), 4)[None, :].repeat(8, axis=0)
    >>> image[:, 12:20] += 0.5
    >>> regions = np.repeat(np.arange(8), 4)[None, :].repeat(8, axis=0)
    >>> moments = AffineMoments.from_labels(image[..., None], regions, 8)
    >>> pairs = np.array([[i, i + 1] for i in range(7)])
    >>> affine_merge(moments, pairs, 3).tolist()
    [0, 0, 0, 1, 1, 2, 2, 2]
    """
    n = moments.energy.shape[0]
    parent = np.arange(n)
    gram, cross, energy = moments.gram.copy(), moments.cross.copy(), moments.energy.copy()
    own = moments.residual(gram, cross, energy)  # each segment's residual, kept current

    def costs(a, others):
        """Merge costs of segment ``a`` with each of ``others``, in one batch."""
        union = moments.residual(gram[a] + gram[others], cross[a] + cross[others],
                                 energy[a] + energy[others])
        return union - own[a] - own[others]

    neighbours = [set() for _ in range(n)]
    for a, b in np.asarray(pairs).tolist():
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    first = np.array([(a, b) for a in range(n) for b in neighbours[a] if a < b],
                     dtype=np.int64).reshape(-1, 2)
    start = moments.residual(gram[first[:, 0]] + gram[first[:, 1]],
                             cross[first[:, 0]] + cross[first[:, 1]],
                             energy[first[:, 0]] + energy[first[:, 1]])
    start -= own[first[:, 0]] + own[first[:, 1]]
    heap = [(float(c), int(a), int(b), 0, 0) for c, (a, b) in zip(start, first, strict=True)]
    heapq.heapify(heap)
    version = np.zeros(n, dtype=np.int64)
    alive = n
    while alive > n_segments and heap:
        _, a, b, seen_a, seen_b = heapq.heappop(heap)
        if parent[a] != a or parent[b] != b or version[a] != seen_a or version[b] != seen_b:
            continue  # stale: a side merged or changed since the pair was pushed
        gram[a] += gram[b]
        cross[a] += cross[b]
        energy[a] += energy[b]
        own[a] = moments.residual(gram[a], cross[a], energy[a])
        parent[b] = a
        alive -= 1
        version[a] += 1
        absorbed, neighbours[b] = neighbours[b], set()
        for x in absorbed:
            if x != a:
                neighbours[x].discard(b)
                neighbours[x].add(a)
                neighbours[a].add(x)
        neighbours[a].discard(b)
        others = np.array(sorted(neighbours[a]), dtype=np.int64)
        if others.size:
            for x, c in zip(others.tolist(), costs(a, others).tolist(), strict=True):
                lo, hi = min(a, x), max(a, x)
                heapq.heappush(heap, (c, lo, hi, int(version[lo]), int(version[hi])))
    if alive > n_segments:
        return None
    for i in range(n):  # parent[i] < i for merged regions: roots are final in order
        parent[i] = parent[parent[i]]
    return np.unique(parent, return_inverse=True)[1].ravel()


def affine_competition(moments, pairs, labels, *, max_rounds=COMPETITION_ROUNDS):
    """Move regions to the adjacent segment whose affine fit suits them best.

    Each round fits one affine function per segment and moves every region
    to the segment, among its own and those of its neighbours, under whose
    fit its residual sum of squares is smallest (region competition, Zhu &
    Yuille 1996). Greedy merging never undoes a merge; this undoes the
    regions that a segment took while its own fit was still unsure. Stops
    when nothing moves, after ``max_rounds``, or before a round that would
    empty a segment.

    Examples
    --------
    Region 2 lies on the ramp of regions 0-3 but starts in the square's
    segment; its fit under the ramp's plane is exact, so it moves back:

    >>> image = np.repeat(np.linspace(0.0, 0.7, 8), 4)[None, :].repeat(8, axis=0)
    >>> image[:, 16:] += 0.5
    >>> regions = np.repeat(np.arange(8), 4)[None, :].repeat(8, axis=0)
    >>> moments = AffineMoments.from_labels(image[..., None], regions, 8)
    >>> pairs = np.array([[i, i + 1] for i in range(7)])
    >>> start = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    >>> affine_competition(moments, pairs, start).tolist()
    [0, 0, 0, 0, 1, 1, 1, 1]
    """
    labels = np.asarray(labels).copy()
    k = int(labels.max()) + 1
    n = labels.size
    i, j = np.asarray(pairs)[:, 0], np.asarray(pairs)[:, 1]
    candidates = np.concatenate([np.arange(n), i, j])
    for _ in range(max_rounds):
        gram, cross, _ = moments.grouped(labels)
        coef = moments.coefficients(gram, cross)
        segment = np.concatenate([labels, labels[j], labels[i]])
        c = coef[segment]
        g = moments.gram[candidates]
        # the residual of region r under coefficients c: E - 2 <c, X> + <c, G c>
        cost = (moments.energy[candidates] - 2 * (c * moments.cross[candidates]).sum(axis=(1, 2))
                + np.einsum("npc,npq,nqc->n", c, g, c))
        order = np.lexsort((segment, cost, candidates))
        first = np.unique(candidates[order], return_index=True)[1]
        moved = segment[order[first]]
        if np.array_equal(moved, labels) or np.unique(moved).size < k:
            break
        labels = moved
    return labels


def robust_partition(features, regions, stats, labels, n_segments, *, noise,
                     shading=SHADING_FACTOR, factor=SUPPORT_FACTOR, switch=SWITCH_FACTOR):
    """The spectral partition, or the partition of the affine region models.

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
    noise : float
        Standard deviation of the pixel noise of ``features``
        (:func:`specseg._regions.pixel_noise`).
    shading, factor, switch : float, optional
        See the module notes.

    Returns
    -------
    labels : (n_regions,) ndarray of int
        ``labels`` itself, or the partition of :func:`affine_merge` refined
        by :func:`affine_competition` (both on the majority modes of the
        regions, :func:`majority_regions`) where neighbouring regions differ
        by more than noise, planes fit the regions, and the spectral
        partition's weakest boundary is unsupported or the models fit the
        merged partition clearly better (module notes).
    """
    labels = np.asarray(labels)
    if n_segments < 2 or int(labels.max()) + 1 != n_segments:
        return labels
    typical = shading_contrast(stats, shading=shading)
    if typical is None:
        return labels  # neighbours differ by noise: no shading to cut along
    kept = majority_regions(features, regions, stats)
    moments = AffineMoments.from_labels(features, kept, stats.n_regions)
    return affine_partition(moments, stats, labels, n_segments, noise=noise, typical=typical,
                            factor=factor, switch=switch)


def shading_contrast(stats, *, shading=SHADING_FACTOR):
    """The typical contrast of neighbouring regions (:func:`typical_contrast`)
    where it exceeds ``shading`` times its spread (shading present), else None."""
    typical, spread = typical_contrast(stats)
    return typical if typical >= shading * spread else None


def affine_partition(moments, stats, labels, n_segments, *, noise, typical,
                     factor=SUPPORT_FACTOR, switch=SWITCH_FACTOR):
    """The second half of :func:`robust_partition`, from the regions' affine
    ``moments`` and the ``typical`` contrast of :func:`shading_contrast`."""
    if not moments.fits(noise):
        return labels
    merged = affine_merge(moments, stats.pairs, n_segments)
    if merged is None:
        return labels
    merged = affine_competition(moments, stats.pairs, merged)
    if weakest_boundary(stats, labels) < factor * typical:
        return merged  # the spectral partition has a boundary the image does not support
    region_pixels = float(moments.gram[:, 0, 0].sum()) / max(stats.n_regions, 1)  # as summed
    gain = moments.partition_residual(labels) - moments.partition_residual(merged)
    return merged if gain > switch * region_pixels * noise**2 else labels

"""Superpixels -> region graph: the same :class:`Graph`, with one node per region.

On a whole frame the pixel graph's normalized cut prefers balanced cuts and
slices through large smooth areas (the background) rather than isolating small
objects. A region graph avoids that: superpixels (SLIC or compact watershed
from scikit-image) absorb the noise, and the graph over them compares *region*
statistics, whose noise shrinks with the region size.

Region affinities
-----------------
For adjacent regions ``i`` and ``j`` with mean feature vectors ``mu_i`` and
``mu_j`` (grey levels scaled to a robust unit range, or CIELAB for colour),
spreads ``sigma_i`` and ``sigma_j`` (root-mean-square deviation from the mean)
and a shared boundary of ``l_ij`` pixel faces, the contrast and weight are

.. math::

    c_{ij} = \\frac{\\lVert \\mu_i - \\mu_j \\rVert}{\\sigma_i + \\sigma_j + m},
    \\qquad
    w_{ij} = \\exp\\left(-\\beta \\, \\frac{c_{ij}}{s}\\right)
             \\cdot \\frac{l_{ij}}{\\bar l}

where ``m`` is the median of ``||mu_i - mu_j||`` and ``s`` the median of
``c_ij`` over all adjacent pairs (most pairs lie inside one object, so the
medians measure the noise of the means plus slow shading), and for volumes
of large regions (at least ``COARSE_REGION_VOXELS`` voxels each) at least
``CONTRAST_FLOOR = 0.1`` (:func:`contrast_floor`), and ``l-bar`` the mean
shared boundary length. The noise of a region's mean shrinks as one over the
root of its size, and with ``s`` that small a region whose mean is pulled a
little (a few voxels of the next object) is cut off from all its neighbours,
so that small groups of such regions become near-components that the cut
spends segments on (on a 128³ Voronoi volume of 8 cells: 10 eigenvalues
below 1.5e-13, two cells merged). Frames and volumes of small regions keep
the median: there it is already near 0.1 when the image is noisy (0.068 on
``shapes(256, noise=0.2)``), and a floor of 0.1 merged two shapes on one draw
of four of that scene and chose 4 segments for 5 balls on one of three 64³
volumes (``n_segments="auto"``). Dividing by the
spreads keeps a superpixel that straddles a boundary (its mean in between, its
spread large) linked to both sides instead of isolating it as a segment of its
own. The length factor makes
the region graph a coarse version of the pixel graph: cutting a long boundary
costs more than cutting a short one. The default ``beta = 4`` is sharp: an
edge whose contrast is a few times the typical one is nearly free to cut.

Block-wise processing
---------------------
:class:`RegionStatistics` holds only sums (pixel counts, feature sums, sums of
squares, boundary lengths and boundary contrast sums per adjacent pair). Sums
over disjoint blocks add, so statistics of a huge volume computed block by
block (with superpixel ids made unique across blocks and the faces between
blocks counted once) merge with :meth:`RegionStatistics.merge` into the
statistics of the whole, and :func:`region_affinity` turns them into the graph.

References
----------
.. [1] R. Achanta et al., "SLIC superpixels compared to state-of-the-art
       superpixel methods", IEEE TPAMI 34(11), 2012. :doi:`10.1109/TPAMI.2012.120`
.. [2] A. Tremeau and P. Colantoni, "Regions adjacency graph applied to color
       image segmentation", IEEE TIP 9(4), 2000. :doi:`10.1109/83.841950`
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._features import block_reduce, image_features
from ._graph import Graph, _symmetric_csr
from ._validation import (
    check_image,
    check_mask,
    check_option,
    check_positive_float,
    check_spacing,
    fill_no_data,
)

__all__ = ["SUPERPIXELS", "RegionStatistics", "region_affinity", "region_graph"]

SUPERPIXELS = ("slic", "watershed")
COLOUR_SPACES = ("auto", "lab", "input")

#: Default number of superpixels: about 400 for a frame, 1000 for a volume (a
#: superpixel of a volume has relatively more boundary, so it needs to be
#: smaller), fewer for small images.
DEFAULT_REGIONS = {2: 400, 3: 1000}
#: Pixels per superpixel below which small images get fewer regions.
MIN_REGION_PIXELS = 40
#: Gaussian smoothing (pixels) of the features compared when snapping boundaries.
SNAP_SIGMA = 0.5
#: :func:`pixel_noise` reads a central crop of at most this many pixels along
#: the first two axes ...
NOISE_SIDE = 1024
#: ... and at most about this many indices of the other axes (volumes).
NOISE_REST = 64
#: Given the pixel noise, boundary pixels move only to a segment whose local mean
#: is this many smoothed-noise deviations from their own segment's.
SNAP_SEPARATION = 3.0
#: Smallest contrast scale ``s`` of the affinity kernel on volumes of large
#: regions (see the module notes and :func:`contrast_floor`).
CONTRAST_FLOOR = 0.1
#: Volumes with regions of at least this many voxels are over-segmented on a
#: grid coarser by ``COARSE_FACTOR`` per axis (see :func:`superpixels`).
COARSE_REGION_VOXELS = 1000
COARSE_FACTOR = 2
#: ... and only when every axis is at least this long.
COARSE_MIN_SIDE = 16
#: SLIC's default compactness, relative to the range of the features it is given.
SLIC_COMPACTNESS = 0.1
#: SLIC's pieces smaller than this share of the mean cluster size join a
#: neighbour (:func:`join_fragments`) ...
FRAGMENT_SIZE_FACTOR = 0.5
#: ... preferably one whose mean agrees with theirs within this many standard errors.
JOIN_AGREEMENT = 3.0


@dataclass
class RegionStatistics:
    """Additive statistics of the regions of a label image.

    Parameters
    ----------
    count : (n_regions,) ndarray
        Pixels per region.
    total : (n_regions, C) ndarray
        Sum of the features per region.
    total_sq : (n_regions, C) ndarray
        Sum of squared features per region.
    pairs : (n_pairs, 2) ndarray of int
        Adjacent regions ``(i, j)`` with ``i < j``, sorted.
    length : (n_pairs,) ndarray
        Number of pixel faces shared by each pair.
    contrast : (n_pairs,) ndarray
        Sum over those faces of the feature difference across the face.
    """

    count: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray
    pairs: np.ndarray
    length: np.ndarray
    contrast: np.ndarray

    @property
    def n_regions(self):
        return self.count.shape[0]

    @property
    def mean(self):
        """Mean feature vector of every region."""
        return self.total / np.maximum(self.count, 1)[:, None]

    @property
    def variance(self):
        """Variance of the features within every region, summed over channels."""
        return np.maximum(self.total_sq / np.maximum(self.count, 1)[:, None] - self.mean**2,
                          0.0).sum(axis=1)

    @classmethod
    def from_labels(cls, features, labels, n_regions=None):
        """Statistics of ``labels`` (``>= 0``; -1 marks pixels outside every region)."""
        labels = np.asarray(labels)
        n_channels = features.shape[-1]
        if n_regions is None:
            n_regions = int(labels.max()) + 1
        inside = labels >= 0
        flat = labels[inside]
        feats = features[inside]
        count = np.bincount(flat, minlength=n_regions).astype(np.float64)
        total = np.stack(
            [np.bincount(flat, feats[:, c], minlength=n_regions) for c in range(n_channels)],
            axis=1,
        )
        total_sq = np.stack(
            [np.bincount(flat, feats[:, c] ** 2, minlength=n_regions) for c in range(n_channels)],
            axis=1,
        )
        keys, diffs = [], []
        for lo, hi in _faces(labels.ndim):
            a, b = labels[lo], labels[hi]
            face = (a != b) & (a >= 0) & (b >= 0)
            a, b = a[face].astype(np.int64), b[face].astype(np.int64)
            keys.append(np.minimum(a, b) * n_regions + np.maximum(a, b))
            step = features[lo][face] - features[hi][face]
            diffs.append(np.sqrt(np.einsum("ij,ij->i", step, step)))
        keys = np.concatenate(keys)
        diffs = np.concatenate(diffs)
        unique, inverse = np.unique(keys, return_inverse=True)
        length = np.bincount(inverse.ravel(), minlength=unique.size).astype(np.float64)
        contrast = np.bincount(inverse.ravel(), diffs, minlength=unique.size)
        pairs = np.stack([unique // n_regions, unique % n_regions], axis=1)
        return cls(count, total, total_sq, pairs, length, contrast)

    def merge(self, other):
        """Statistics of the union of two disjoint sets of pixels with shared region ids.

        Region ids index the same regions in both (pad with zero counts); pairs
        found in both add their lengths and contrasts.
        """
        n = max(self.n_regions, other.n_regions)

        def pad(a):
            out = np.zeros((n,) + a.shape[1:])
            out[: a.shape[0]] = a
            return out

        pairs = np.concatenate([self.pairs, other.pairs])
        keys = pairs[:, 0] * n + pairs[:, 1]
        unique, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        return RegionStatistics(
            pad(self.count) + pad(other.count),
            pad(self.total) + pad(other.total),
            pad(self.total_sq) + pad(other.total_sq),
            np.stack([unique // n, unique % n], axis=1),
            np.bincount(inverse, np.concatenate([self.length, other.length])),
            np.bincount(inverse, np.concatenate([self.contrast, other.contrast])),
        )


def region_affinity(stats, *, beta=4.0, floor=0.0):
    """Affinity matrix of a region adjacency graph from its statistics.

    See the module notes for the formula; ``floor`` is the smallest contrast
    scale (:func:`contrast_floor` in :func:`region_graph` and the blockwise
    path). Returns ``(affinity, scale)``.
    """
    beta = check_positive_float("beta", beta, allow_zero=True)
    mean = stats.mean
    spread = np.sqrt(stats.variance)
    i, j = stats.pairs[:, 0], stats.pairs[:, 1]
    distance = np.linalg.norm(mean[i] - mean[j], axis=1)
    contrast = distance / (spread[i] + spread[j] + _median_scale(distance))
    scale = max(_median_scale(contrast), floor)
    length = stats.length
    weights = np.exp(contrast * (-beta / scale)) * (length / length.mean() if length.size else 1)
    # keep every edge: a weight that underflows would silently disconnect the graph
    weights = np.maximum(weights, np.finfo(np.float64).tiny)
    affinity = _symmetric_csr([i], [j], [weights], stats.n_regions)
    return affinity, scale


def contrast_floor(ndim, voxels_per_region):
    """The floor under the kernel's contrast scale: ``CONTRAST_FLOOR`` for
    volumes whose regions hold at least ``COARSE_REGION_VOXELS`` voxels, else 0.

    Examples
    --------
    >>> contrast_floor(3, 4096), contrast_floor(3, 262), contrast_floor(2, 4096)
    (0.1, 0.0, 0.0)
    """
    if ndim == 3 and voxels_per_region >= COARSE_REGION_VOXELS:
        return CONTRAST_FLOOR
    return 0.0


def _median_scale(distance):
    """Median of the positive distances; 1 when there are none (a constant image)."""
    positive = distance[distance > 0]
    if positive.size == 0:
        return 1.0
    return float(np.median(positive))


def superpixels(features, *, n_regions, method="slic", compactness=None, mask=None,
                spacing=None, sigma=1.0, feature_range=None, join_by_value=True):
    """Over-segment a feature image into about ``n_regions`` compact regions.

    Returns an int label image, ``0 .. n - 1`` inside the mask and -1 outside,
    with every region connected. ``sigma`` is the Gaussian smoothing applied
    first (0 for features smoothed already, as the blockwise path does with a
    halo so that blocks see the smoothing of the whole volume).

    Volumes whose regions hold at least ``COARSE_REGION_VOXELS`` voxels are
    over-segmented on a grid coarser by ``COARSE_FACTOR`` per axis (the
    smoothed features averaged over ``2 x 2 x 2`` cells) and the labels spread
    back to the voxels: SLIC's cost falls about sixfold, and the boundary
    pass of the region mode (:func:`snap_boundaries`, whose band is half a
    region wide) restores voxel-accurate boundaries. The in-memory region mode
    and the blockwise path both come through here, so they over-segment alike.
    (A mask can cut a region of the coarse grid in two at the voxels.)

    SLIC takes its compactness relative to the range of the values it is given
    (scikit-image rescales them to [0, 1] before it smooths them). An image
    over-segmented in pieces (the blockwise path) passes ``feature_range``, the
    ``(low, high)`` that SLIC would rescale on the whole image (the features,
    or on a coarse grid the smoothed ones averaged over its cells), so that
    every piece is over-segmented at the compactness of the whole image: with
    each piece's own range, a piece of background alone has a narrow range and
    its supervoxels follow the noise.

    SLIC's clusters may fall into pieces; each piece too small to be a region
    joins a neighbour of the same value (:func:`join_fragments`), or, with
    ``join_by_value=False``, the neighbour scikit-image's SLIC joins it to
    (the blockwise path in noisy volumes, see ``_blockwise.JOIN_MAX_NOISE``).
    """
    values, slic_mask, factor = superpixel_input(features, n_regions=n_regions, mask=mask,
                                                 sigma=sigma)
    if method == "slic" and feature_range is not None:
        compactness = _piece_compactness(values, slic_mask, compactness, feature_range)
    labels = _over_segment(values, n_regions, method, compactness, slic_mask, spacing,
                           sigma if factor == 1 else 0.0, join_by_value)
    if factor > 1:
        for axis in range(features.ndim - 1):
            labels = np.repeat(labels, factor, axis=axis)
        labels = labels[tuple(slice(0, n) for n in features.shape[:-1])]
        if mask is not None:
            missing = mask & (labels < 0)
            if missing.any():  # a voxel of the mask in a coarse cell mostly outside it
                _, nearest = ndimage.distance_transform_edt(labels < 0, return_indices=True)
                labels = np.where(missing, labels[tuple(nearest)], labels)
    if mask is not None:
        labels[~mask] = -1
    # renumber to 0 .. n - 1 in the order of the ids (SLIC may skip ids); -1
    # stays -1. The ids are small: ranks by counting, not by sorting.
    if mask is None:
        rank = np.cumsum(np.bincount(labels.ravel()) > 0) - 1
        labels = rank[labels]
    else:
        inside = labels >= 0
        ids = labels[inside]
        rank = np.cumsum(np.bincount(ids, minlength=1) > 0) - 1
        labels[inside] = rank[ids]
    return labels


def superpixel_input(features, *, n_regions, mask=None, sigma=1.0):
    """What :func:`superpixels` over-segments: ``(values, mask, factor)``.

    ``values`` are the features themselves (``factor`` 1; SLIC smooths them by
    ``sigma``), or on a grid coarser by ``factor`` the smoothed features
    averaged over its cells, with the cells mostly inside ``mask`` as their mask.
    """
    ndim = features.ndim - 1
    n_inside = int(np.prod(features.shape[:-1])) if mask is None else int(np.count_nonzero(mask))
    factor = coarse_factor(features.shape[:-1], n_inside / max(int(n_regions), 1))
    if factor == 1:
        return features, mask, 1
    if sigma > 0:
        features = np.stack([ndimage.gaussian_filter(features[..., c], sigma)
                             for c in range(features.shape[-1])], axis=-1)
    coarse = block_reduce(features, factor, np.mean, ndim=ndim)
    coarse_mask = None
    if mask is not None:
        share = block_reduce(mask.astype(np.float32), factor, np.mean, ndim=ndim)
        coarse_mask = share > 0.5
        if not coarse_mask.any():
            coarse_mask = share > 0
    return coarse, coarse_mask, factor


def value_range(values, mask=None):
    """``(low, high)`` of ``values`` inside ``mask`` over every channel, as SLIC
    takes them before it rescales; None where the mask is empty."""
    inside = values if mask is None else values[mask]
    if inside.size == 0:
        return None
    return float(inside.min()), float(inside.max())


def _piece_compactness(values, mask, compactness, feature_range):
    """SLIC's compactness for a piece of an image whose whole range is
    ``feature_range``: scaled by the whole range over the piece's own, which
    SLIC divides by."""
    compactness = SLIC_COMPACTNESS if compactness is None else compactness
    piece = value_range(values, mask)
    whole = feature_range[1] - feature_range[0]
    if piece is None or not piece[1] > piece[0] or not whole > 0:
        return compactness
    return compactness * (whole / (piece[1] - piece[0]))


def coarse_factor(shape, voxels_per_region):
    """Grid coarsening of :func:`superpixels`: ``COARSE_FACTOR`` for volumes of
    large regions (at least ``COARSE_REGION_VOXELS`` voxels each, every axis at
    least ``COARSE_MIN_SIDE``), else 1.

    Examples
    --------
    >>> coarse_factor((128, 128, 128), 2048), coarse_factor((128, 128, 128), 500)
    (2, 1)
    >>> coarse_factor((512, 512), 4096)
    1
    """
    if len(shape) == 3 and voxels_per_region >= COARSE_REGION_VOXELS and min(
            shape) >= COARSE_MIN_SIDE:
        return COARSE_FACTOR
    return 1


def _over_segment(features, n_regions, method, compactness, mask, spacing, sigma, join_by_value):
    """SLIC (its small pieces joined by value, :func:`join_fragments`, or by
    scikit-image) or compact watershed labels; -1 outside the mask."""
    from skimage import segmentation

    if method == "slic":
        clusters = segmentation.slic(
            features,
            n_segments=n_regions,
            compactness=SLIC_COMPACTNESS if compactness is None else compactness,
            channel_axis=-1,
            convert2lab=False,
            sigma=sigma,
            spacing=spacing,
            mask=mask,
            start_label=0,
            enforce_connectivity=not join_by_value,
        )
        if not join_by_value:
            return clusters.astype(np.int64)
        return join_fragments(clusters, features)
    from skimage.filters import sobel

    smooth = np.stack(
        [ndimage.gaussian_filter(features[..., c], sigma) if sigma > 0 else features[..., c]
         for c in range(features.shape[-1])],
        axis=-1,
    )
    gradient = np.sqrt(sum(sobel(smooth[..., c]) ** 2 for c in range(smooth.shape[-1])))
    markers = _grid_markers(features.shape[:-1], n_regions, mask)
    return segmentation.watershed(
        gradient,
        markers,
        mask=mask,
        compactness=1e-3 if compactness is None else compactness,
    ).astype(np.int64) - 1


def join_fragments(clusters, values, *, size_factor=FRAGMENT_SIZE_FACTOR):
    """Connected regions from SLIC's clusters: each small piece joins an adjacent
    piece of the same value, or else the one of the nearest mean value.

    Parameters
    ----------
    clusters : (...) ndarray of int
        Cluster of every pixel, ``0 .. m - 1`` (-1: outside the mask). A
        cluster may fall into several connected pieces.
    values : (..., C) ndarray
        The values SLIC was given (it may have smoothed them itself).
    size_factor : float, optional
        Pieces of fewer than ``size_factor`` times the mean cluster size (in
        pixels) join a neighbour, as in scikit-image's SLIC
        (``min_size_factor``).

    Returns
    -------
    labels : ndarray of int
        Region of every pixel (ids not consecutive; -1 outside the mask), each
        region connected (faces).

    Notes
    -----
    scikit-image's own step (``enforce_connectivity``) joins a small piece to
    a region next to it found in raster order, whatever its value. Along a
    straight edge SLIC leaves a band of small pieces one pixel wide (the
    smoothing blurs the edge over a few pixels), and those on one side of the
    edge then join regions of the other side: a chain of regions that straddle
    the edge, their means between the two sides, which the region graph links
    weakly to both and the cut then spends a segment on (the two halves of a
    128 x 128 frame at noise 0.05: three segments with ``n_segments="auto"``,
    one a strip of 219 pixels; at 200 x 200 with two segments asked for, the
    strip and the rest).

    Here a small piece joins, among its neighbours whose mean agrees with its
    own within ``JOIN_AGREEMENT`` standard errors (the noise from the spread
    of the values within the pieces), the one it shares the longest boundary
    with; if none agrees, the one of the nearest mean. Joining on the nearest
    mean alone would make regions that follow the noise in noisy images (their
    pieces sorted by their noise), pulling their means apart. The rounds go on
    until no small piece has a neighbour left (pieces that join each other may
    still be small).

    Examples
    --------
    Cluster 0 has a piece of one pixel on the right edge, among pixels of
    value 1; it joins the piece of cluster 1 there:

    >>> clusters = np.array([[0, 0, 1, 1, 0]] * 2)
    >>> values = np.array([[0.0, 0.0, 1.0, 1.0, 0.9]] * 2)[..., None]
    >>> join_fragments(clusters, values, size_factor=0.6)
    array([[0, 0, 1, 1, 1],
           [0, 0, 1, 1, 1]])
    """
    from skimage.measure import label

    clusters = np.asarray(clusters)
    # pieces numbered from 1, 0 outside the mask: every array below keeps a
    # slot 0 for the outside, so that no mask of the pixels is needed
    pieces = label(clusters + 1, background=0, connectivity=1)
    n = int(pieces.max()) + 1
    if n <= 2:
        return pieces.astype(np.int64) - 1
    flat = pieces.ravel()
    values = np.asarray(values, dtype=np.float64)
    size = np.bincount(flat, minlength=n).astype(np.float64)
    size[0] = 0.0
    total = np.stack([np.bincount(flat, values[..., c].ravel(), minlength=n)
                      for c in range(values.shape[-1])], axis=1)
    squares = sum(np.bincount(flat, values[..., c].ravel() ** 2, minlength=n)
                  for c in range(values.shape[-1]))
    spread = squares / np.maximum(size, 1) - (total**2).sum(axis=1) / np.maximum(size, 1) ** 2
    several = size >= 2
    noise2 = float(np.median(np.maximum(spread[several], 0))) if several.any() else 0.0
    if several.any():  # the unbiased variance
        typical = float(np.median(size[several]))
        noise2 *= typical / max(typical - 1, 1)
    min_size = size_factor * size.sum() / (int(clusters.max()) + 1)
    a, b, length = _adjacent_pairs(pieces, n)
    root = np.arange(n)
    for _ in range(_JOIN_ROUNDS):
        group_size = np.bincount(root, size, minlength=n)
        small = (group_size > 0) & (group_size < min_size)
        ga, gb = root[a], root[b]
        apart = ga != gb
        source = np.concatenate([ga[apart], gb[apart]])
        target = np.concatenate([gb[apart], ga[apart]])
        shared = np.concatenate([length[apart], length[apart]])
        keep = small[source]
        source, target, shared = source[keep], target[keep], shared[keep]
        if source.size == 0:
            break
        # one row per pair of groups, their shared faces summed
        keys, inverse = np.unique(source * n + target, return_inverse=True)
        shared = np.bincount(inverse.ravel(), shared)
        source, target = keys // n, keys % n
        group_total = np.stack([np.bincount(root, total[:, c], minlength=n)
                                for c in range(total.shape[1])], axis=1)
        mean = group_total / np.maximum(group_size, 1)[:, None]
        distance = np.linalg.norm(mean[source] - mean[target], axis=1)
        error = np.sqrt(noise2 * (1 / group_size[source] + 1 / group_size[target]))
        agrees = distance <= JOIN_AGREEMENT * error
        # per source: agreeing neighbours first, the longest boundary first among
        # them; otherwise the nearest mean; ties by id
        order = np.lexsort((target, np.where(agrees, -shared, distance), ~agrees, source))
        source, target = source[order], target[order]
        first = np.ones(source.size, dtype=bool)
        first[1:] = source[1:] != source[:-1]
        step = np.arange(n)
        step[source[first]] = target[first]
        # two small groups that chose each other: the larger id joins the smaller
        mutual = (step[step] == np.arange(n)) & (step > np.arange(n))
        step[np.flatnonzero(mutual)] = np.flatnonzero(mutual)
        while True:  # follow the choices to their ends
            jumped = step[step]
            if np.array_equal(jumped, step):
                break
            step = jumped
        root = step[root]
    return root[pieces] - 1


def _adjacent_pairs(labels, n):
    """Distinct pairs ``(i, j)``, ``i < j``, of labels that share pixel faces
    (label 0 is outside every region, ids below ``n``), and the number of faces
    each pair shares."""
    keys = []
    for lo, hi in _faces(labels.ndim):
        first, second = labels[lo], labels[hi]
        face = (first != second) & (first > 0) & (second > 0)
        first, second = first[face].astype(np.int64), second[face].astype(np.int64)
        keys.append(np.minimum(first, second) * n + np.maximum(first, second))
    keys, count = np.unique(np.concatenate(keys), return_counts=True)
    return keys // n, keys % n, count.astype(np.float64)


def _faces(ndim):
    """``(lower, upper)`` indices of the pixels on either side of every face
    between neighbours along each axis, one pair of index tuples per axis.

    Examples
    --------
    >>> labels = np.array([[0, 0, 1], [2, 2, 1]])
    >>> [(labels[lo] != labels[hi]).sum() for lo, hi in _faces(2)]
    [np.int64(2), np.int64(2)]
    """
    for axis in range(ndim):
        lo = [slice(None)] * ndim
        hi = [slice(None)] * ndim
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        yield tuple(lo), tuple(hi)


#: Rounds of :func:`join_fragments` at most (two or three suffice in practice).
_JOIN_ROUNDS = 10


def _grid_markers(shape, n_regions, mask):
    """Markers on a regular grid with about ``n_regions`` points."""
    step = max(1, int(round((np.prod(shape) / n_regions) ** (1.0 / len(shape)))))
    markers = np.zeros(shape, dtype=np.int64)
    grids = tuple(slice(step // 2, None, step) for _ in shape)
    n = markers[grids].size
    markers[grids] = np.arange(1, n + 1).reshape(markers[grids].shape)
    if mask is not None:
        markers[~mask] = 0
    return markers


def default_n_regions(n_pixels, ndim=2):
    """``DEFAULT_REGIONS[ndim]`` regions, but at least ``MIN_REGION_PIXELS`` pixels each."""
    return int(max(2, min(DEFAULT_REGIONS[ndim], n_pixels // MIN_REGION_PIXELS)))


def region_graph(
    image,
    *,
    n_regions=None,
    mask=None,
    channel_axis=None,
    superpixel_method="slic",
    compactness=None,
    beta=4.0,
    colour_space="auto",
    spacing=None,
):
    """Build a region adjacency graph of a 2-D or 3-D image.

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        Grey or multichannel image; any real dtype.
    n_regions : int, optional
        Approximate number of superpixels (default: 400 for an image, 1000 for
        a volume, fewer when that leaves less than 40 pixels per superpixel).
    mask : (M, N[, P]) array_like of bool, optional
        Only pixels where the mask is nonzero belong to regions.
    channel_axis : int, optional
        Axis holding the channels; None for a single-channel image.
    superpixel_method : {"slic", "watershed"}, optional
        SLIC (k-means in feature and position space) or compact watershed of the
        gradient from grid markers.
    compactness : float, optional
        Trade-off between feature similarity and compact shape, in feature
        units (default 0.1 for SLIC, 0.001 for watershed).
    beta : float, optional
        Sharpness of the affinity kernel (see the module notes).
    colour_space : {"auto", "lab", "input"}, optional
        "auto" and "lab" convert a 3-channel image (RGB) to CIELAB, which
        compares colours as people see them; "input" keeps the channels as
        they are. Images with another number of channels are never converted
        ("lab" refuses them).
    spacing : float or sequence of float, optional
        Physical voxel size per spatial axis (or one for all), passed to SLIC
        in units of the smallest: only the ratios matter.

    Returns
    -------
    graph : Graph
        One node per region; ``graph.node_map`` gives the node of every pixel
        (-1 outside the mask) and ``graph.to_image`` maps node labels back.

    Examples
    --------
    >>> from specseg.datasets import shapes
    >>> image, truth = shapes(64, n_shapes=2, random_state=0)
    >>> graph = region_graph(image, n_regions=50)
    >>> graph.node_map.shape, 20 < graph.n_nodes <= 60
    ((64, 64), True)
    >>> graph.to_image(np.zeros(graph.n_nodes, int)).shape
    (64, 64)
    """
    return _region_graph(image, n_regions=n_regions, mask=mask, channel_axis=channel_axis,
                         superpixel_method=superpixel_method, compactness=compactness,
                         beta=beta, colour_space=colour_space, spacing=spacing)[0]


def _region_graph(image, *, n_regions, mask, channel_axis, superpixel_method, compactness, beta,
                  colour_space, spacing):
    """:func:`region_graph`, also returning the region statistics and the features."""
    image = check_image(fill_no_data(image, mask, channel_axis), channel_axis=channel_axis)
    shape = image.shape[:-1]
    mask = check_mask(mask, shape)
    check_option("superpixel method", superpixel_method, SUPERPIXELS)
    check_option("colour space", colour_space, COLOUR_SPACES)
    beta = check_positive_float("beta", beta, allow_zero=True)
    if compactness is not None:
        compactness = check_positive_float("compactness", compactness)
    n_pixels = int(np.prod(shape)) if mask is None else int(mask.sum())
    if n_regions is None:
        n_regions = default_n_regions(n_pixels, len(shape))
    elif isinstance(n_regions, bool) or not isinstance(n_regions, numbers.Integral) or (
        n_regions < 1
    ):
        raise ValueError(f"n_regions must be a positive integer, got {n_regions!r}.")
    if spacing is not None:
        # in units of the smallest spacing, as pixel_graph takes it: SLIC divides
        # its smoothing by the spacing, so (1, 0.2, 0.2) would smooth 5 voxels
        # wide where (5, 1, 1), the same voxels, smooths 1
        spacing = np.asarray(check_spacing(spacing, len(shape)), dtype=np.float64)
        spacing = spacing / spacing.min()
    features = image_features(image, colour_space=colour_space)
    labels = superpixels(features, n_regions=int(n_regions), method=superpixel_method,
                         compactness=compactness, mask=mask, spacing=spacing)
    stats = RegionStatistics.from_labels(features, labels)
    floor = contrast_floor(len(shape), n_pixels / max(stats.n_regions, 1))
    affinity, scale = region_affinity(stats, beta=beta, floor=floor)
    graph = Graph(affinity=affinity, shape=tuple(shape), mask=mask, node_map=labels, scale=scale)
    return graph, stats, features


def pixel_noise(features):
    """Robust standard deviation of the pixel noise of a feature image.

    Per channel, the median absolute value of the finest diagonal detail
    ``(x[i, j] - x[i+1, j] - x[i, j+1] + x[i+1, j+1]) / 2`` over the first
    two axes, divided by 0.6745 (Donoho's estimate from the finest wavelet
    band); the norm over channels. The detail vanishes on ramps, straight
    edges and stripes along either axis, and edges barely move a median.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> features = 0.1 * rng.standard_normal((64, 64, 1))
    >>> features[:, 32:] += 1.0
    >>> round(pixel_noise(features), 2)
    0.1
    """
    x = np.asarray(features)
    if x.ndim < 3 or min(x.shape[:2]) < 2:
        return 0.0
    return float(np.linalg.norm(_diagonal_detail_medians(_noise_sample(x)) / 0.6745))


def _noise_sample(x):
    """A central crop of at most ``NOISE_SIDE`` along the first two axes of a
    ``(M, N, ..., C)`` array and every s-th index along the others (at most about
    ``NOISE_REST`` of them): noise estimates stay cheap on large frames and volumes."""
    crop = tuple(slice(max(0, (n - NOISE_SIDE) // 2), max(0, (n - NOISE_SIDE) // 2) + NOISE_SIDE)
                 for n in x.shape[:2])
    rest = x.shape[2:-1]
    step = max(1, int(np.ceil(np.prod(rest, dtype=float) / NOISE_REST))) if rest else 1
    return x[crop + (slice(None, None, step),) * len(rest)]


def _diagonal_detail_medians(x):
    """Per channel, the median of ``|x[i, j] - x[i+1, j] - x[i, j+1] + x[i+1, j+1]| / 2``
    over the first two axes of a ``(M, N, ..., C)`` array (Donoho's noise estimate
    before the division by 0.6745)."""
    detail = 0.5 * (x[:-1, :-1] - x[1:, :-1] - x[:-1, 1:] + x[1:, 1:])
    return np.median(np.abs(detail).reshape(-1, x.shape[-1]), axis=0)


def snap_boundaries(features, labels, *, width, mask=None, noise=None):
    """Move pixels near segment boundaries to the segment they locally resemble.

    Superpixels that straddle a true boundary put all their pixels on one
    side. This pass reclassifies every pixel within ``width`` pixels of a
    segment boundary: it goes to the segment, among those present within
    ``width``, whose *local* mean of the smoothed features (over a window of
    side ``2 * width + 1``) is nearest to its own smoothed feature. Local means
    follow slow shading, so a shaded background is not pulled apart.

    Parameters
    ----------
    features : (M, N[, P], C) ndarray
        Scale-free features (see :func:`image_features`).
    labels : (M, N[, P]) ndarray of int
        Segment labels ``0 .. k - 1``; -1 outside the mask is left alone.
    width : int
        Half-width of the band and of the window, in pixels.
    noise : float, optional
        Standard deviation of the pixel noise of ``features`` (see
        :func:`pixel_noise`). If given, a pixel may move only to a segment
        whose local mean differs from its own segment's local mean by at
        least ``SNAP_SEPARATION`` times the noise of the smoothed features:
        across a weaker boundary single pixels cannot be told apart (on a
        boundary of 0.8 noise levels a nearest-mean vote misplaces about a
        quarter of them), and the superpixels' boundary stands.

    Returns
    -------
    labels : ndarray of int
        A copy with boundary pixels reassigned.
    """
    width = max(1, int(width))
    size = 2 * width + 1
    k = int(labels.max()) + 1
    if k < 2:
        return labels
    inside = labels >= 0
    # boundary band: pixels whose window holds another segment's pixel
    guard = np.where(inside, labels, k)
    band = (ndimage.maximum_filter(guard, size=size) != ndimage.minimum_filter(guard, size=size))
    band &= inside
    if not band.any():
        return labels
    smooth = np.stack(
        [ndimage.gaussian_filter(features[..., c], SNAP_SIGMA) for c in range(features.shape[-1])],
        axis=-1,
    ).astype(np.float32)
    # Every window of a band pixel lies in the band's bounding box grown by
    # ``width``, and only segments with a pixel in the band can be near one
    # (a pixel within ``width`` of another segment is itself in the band).
    where = np.nonzero(band)
    box = tuple(slice(max(0, int(w.min()) - width), int(w.max()) + width + 1) for w in where)
    sub, sub_band, smooth = labels[box], band[box], smooth[box]
    segments = np.unique(sub[sub_band])
    target = smooth[sub_band]
    own = sub[sub_band]
    # the local means near every band pixel: of its own segment (own_mean) and,
    # kept sparse, of the other segments present (a band pixel sees one or two)
    index = np.int32 if target.shape[0] < 2**31 else np.int64
    others = []
    own_mean = np.empty_like(target)
    for c in segments:
        member = (sub == c).astype(np.float32)
        count = ndimage.uniform_filter(member, size=size, mode="constant")[sub_band]
        near = np.flatnonzero(count > 0.5 / size**labels.ndim).astype(index)
        local = np.stack(
            [ndimage.uniform_filter(member * smooth[..., channel], size=size,
                                    mode="constant")[sub_band][near]
             for channel in range(smooth.shape[-1])], axis=-1) / count[near, None]
        mine = own[near] == c
        own_mean[near[mine]] = local[mine]
        others.append((near[~mine], local[~mine]))
        del member, count, near, local, mine
    if noise is not None:
        limit = SNAP_SEPARATION * noise * _smoothed_noise_gain(labels.ndim)
    own_distance = ((target - own_mean) ** 2).astype(np.float64).sum(axis=1)
    best = np.full(target.shape[0], np.inf)
    choice = own.copy()

    def offer(c, where, distance):
        better = distance < best[where]
        best[where[better]] = distance[better]
        choice[where[better]] = c

    # in segment order, as one pass over all segments would: ties go to the first
    for c, (near, local) in zip(segments, others, strict=True):
        mine = np.flatnonzero(own == c)
        offer(c, mine, own_distance[mine])
        distance = ((target[near] - local) ** 2).astype(np.float64).sum(axis=1)
        if noise is not None:  # only a segment clearly apart from the pixel's own
            apart = ((local - own_mean[near]) ** 2).sum(axis=1) >= limit**2
            distance = np.where(apart, distance, np.inf)
        offer(c, near, distance)
    out = labels.copy()
    out_sub = out[box]  # a view: writes go to ``out``
    out_sub[sub_band] = choice
    # one majority vote over the 3^d neighbourhood removes isolated pixels
    votes = np.full(target.shape[0], -1.0)
    winner = choice.copy()
    for c in segments:
        count = ndimage.uniform_filter((out_sub == c).astype(np.float32), size=3,
                                       mode="nearest")[sub_band]
        better = count > votes
        votes[better] = count[better]
        winner[better] = c
    out_sub[sub_band] = winner
    return out


def _smoothed_noise_gain(ndim):
    """Standard deviation of white noise of unit variance after the snap's smoothing."""
    impulse = np.zeros((9,) * ndim)
    impulse[(4,) * ndim] = 1.0
    return float(np.sqrt((ndimage.gaussian_filter(impulse, SNAP_SIGMA) ** 2).sum()))

"""Boundary-strength map -> a hierarchy of nested regions (OWT-UCM).

The representation, written once here:

- **Leaves** are the finest regions: the watershed basins of the boundary
  map, flooded from its regional minima with 4-connectivity and *no*
  watershed lines, so the leaves tile the image (mask) and every boundary lies
  *between* two pixels.
- A **pair** is two pixels that are neighbours along one axis (4-connectivity
  in 2-D, 6 in 3-D), both inside the mask. A pair whose pixels lie in
  different leaves is a piece of boundary (an *edgel*).
- An **arc** is the set of edgels between two adjacent leaves. Its strength is
  the mean strength of its edgels.
- The **hierarchy** is held the way :mod:`scipy.cluster.hierarchy` holds one:
  a merge list (which two clusters merge, in which order, at what height)
  over the leaves; leaves are nodes ``0 .. n_leaves - 1`` and merge ``k``
  creates node ``n_leaves + k``.
- The **ultrametric contour map** gives every pair the height at which its
  two pixels first fall into one region.

Orientation convention (for the oriented watershed transform): the oriented
strength ``orientation[o]`` answers for a boundary that runs along the
direction ``(d_row, d_col) = (cos theta_o, sin theta_o)`` with
``theta_o = o * pi / n_orient``: ``o = 0`` for vertical boundaries (a
left/right step), ``theta = pi / 2`` for horizontal ones (a top/bottom step)
and ``theta = pi / 4`` for boundaries drawn like ``\\`` on the screen. This is
the binning of gPb-owt-ucm (Arbeláez et al.): there ``theta`` is read as the
direction of the gradient across the boundary, counter-clockwise from the
column axis with the y axis pointing up (rows reversed) -- the same angles.
"""

from __future__ import annotations

import heapq
import numbers

import numpy as np
from scipy import ndimage as ndi
from scipy import sparse
from scipy.sparse import csgraph

from ._validation import check_mask, check_n_segments

__all__ = ["Hierarchy", "hierarchy", "ultrametric_hierarchy"]

#: An arc is split into straight segments until no edgel lies farther than this
#: (in pixels) from its segment's chord; a staircase of edgels along a straight
#: diagonal deviates by about 0.35, so it stays one segment.
SEGMENT_TOLERANCE = 1.0
#: Gaussian blur (pixels) of a contour map before :func:`hierarchy` floods it.
LEAF_SMOOTHING = 2.0


class Hierarchy:
    """Nested segmentations of an image, cut at any threshold in milliseconds.

    Made by :func:`ultrametric_hierarchy`; not meant to be built by hand.

    Attributes
    ----------
    shape : tuple of int
        The image shape.
    mask : ndarray of bool or None
        The pixels segmented (None: all).
    leaves : ndarray of int
        The finest regions (image-shaped), canonically numbered
        ``0 .. n_leaves - 1``, -1 outside the mask.
    n_leaves : int
        Number of leaf regions.
    merges : (n_merges, 2) ndarray of int
        The two nodes merged at each step, in order; leaves are nodes
        ``0 .. n_leaves - 1`` and step ``k`` creates node ``n_leaves + k``.
    heights : (n_merges,) ndarray of float
        The height of each merge, non-decreasing, in [0, 1].
    ucm : ndarray of float
        The ultrametric contour map (see :attr:`ucm`).
    """

    def __init__(self, leaves, merges, heights, pair_heights, mask):
        self.shape = tuple(leaves.shape)
        # a copy: check_mask hands back the caller's boolean array itself
        self.mask = _read_only(mask.copy()) if mask is not None else None
        self.leaves = _read_only(leaves)
        self.n_leaves = int(leaves.max()) + 1
        self.merges = _read_only(np.asarray(merges, dtype=np.intp).reshape(-1, 2))
        self.heights = _read_only(np.asarray(heights, dtype=np.float64))
        # one forward-pair height map per axis, 0 inside leaves and at the mask
        self._pair_heights = tuple(_read_only(h) for h in pair_heights)
        self._index = _CutIndex(self.n_leaves, self.merges)
        # leaves + 1, so that -1 (outside the mask) reads entry 0 of a cut's table
        self._leaves_plus_one = leaves + 1
        self._ucm = None

    @property
    def n_roots(self):
        """Number of regions at the top (one per connected part of the mask)."""
        return self.n_leaves - self.heights.size

    @property
    def thresholds(self):
        """The distinct merge heights: the thresholds where :meth:`cut` changes."""
        return np.unique(self.heights)

    @property
    def ucm(self):
        """The ultrametric contour map, image-shaped (float64, 0 inside regions).

        Each pixel holds the largest height at which it is separated from its
        next neighbour along an axis (in 2-D: its right or its lower
        neighbour); 0 when both lie in one leaf or either is outside the mask.
        So ``ucm > t`` is exactly the set of pixels whose right or lower
        neighbour lies in another segment of ``cut(threshold=t)``.
        """
        if self._ucm is None:
            ucm = np.zeros(self.shape)
            for axis, height in enumerate(self._pair_heights):
                lower = tuple(slice(None, -1) if a == axis else slice(None)
                              for a in range(len(self.shape)))
                np.maximum(ucm[lower], height, out=ucm[lower])
            self._ucm = _read_only(ucm)
        return self._ucm

    def ucm2(self):
        """The contour map on the double grid of the BSDS benchmark, (2M+1, 2N+1).

        Pixel ``(i, j)`` sits at ``(2i+1, 2j+1)`` and holds 0; the boundary
        between ``(i, j)`` and ``(i, j+1)`` sits at ``(2i+1, 2j+2)``, the one
        between ``(i, j)`` and ``(i+1, j)`` at ``(2i+2, 2j+1)``, each with its
        height; a grid corner holds the largest height around it. Then
        ``ndimage.label(ucm2 <= t)[0][1::2, 1::2]`` is ``cut(threshold=t)`` up to
        numbering, with 4- or 8-connectivity (outside a mask, pixels are not
        separated: apply the mask afterwards).

        Examples
        --------
        >>> boundary = np.zeros((3, 4))
        >>> boundary[:, 1:3] = 0.5
        >>> ultrametric_hierarchy(boundary).ucm2().shape
        (7, 9)
        """
        if len(self.shape) != 2:
            raise ValueError(f"ucm2 is defined for 2-D images, this one has shape {self.shape}.")
        rows, cols = self.shape
        out = np.zeros((2 * rows + 1, 2 * cols + 1))
        vertical, horizontal = self._pair_heights  # pairs along rows, along columns
        out[2:-1:2, 1::2] = vertical
        out[1::2, 2:-1:2] = horizontal
        corners = out[::2, ::2]
        np.maximum(corners[:-1, :], out[1::2, ::2], out=corners[:-1, :])
        np.maximum(corners[1:, :], out[1::2, ::2], out=corners[1:, :])
        np.maximum(corners[:, :-1], out[::2, 1::2], out=corners[:, :-1])
        np.maximum(corners[:, 1:], out[::2, 1::2], out=corners[:, 1:])
        return out

    def cut(self, *, threshold=None, n_segments=None):
        """The segmentation at one level of the hierarchy.

        Parameters
        ----------
        threshold : float in [0, 1], optional
            Merge every arc whose height is ``<= threshold`` (the BSDS
            convention: the regions are the components of ``ucm2 <= t``).
            0 gives the leaves merged at height 0 (e.g. across flat zero
            boundary), 1 the connected parts of the mask.
        n_segments : int, optional
            The level with this many segments, from ``n_roots`` to
            ``n_leaves``. With tied heights this level may lie between two
            thresholds; it is still a level of the same merge sequence.

        Returns
        -------
        labels : ndarray of int
            Image-shaped, -1 outside the mask, segments ``0 .. n - 1``
            numbered by first pixel in raster order, as :func:`specseg.segment`.

        Examples
        --------
        >>> boundary = np.zeros((2, 6))
        >>> boundary[:, 2] = boundary[:, 3] = 0.4
        >>> h = ultrametric_hierarchy(boundary)
        >>> h.cut(threshold=0.3)
        array([[0, 0, 0, 1, 1, 1],
               [0, 0, 0, 1, 1, 1]])
        >>> h.cut(n_segments=1)
        array([[0, 0, 0, 0, 0, 0],
               [0, 0, 0, 0, 0, 0]])
        """
        n_merges = self._n_merges(threshold, n_segments)
        table = np.r_[-1, self._index.leaf_labels(n_merges)]
        return table[self._leaves_plus_one]

    def _n_merges(self, threshold, n_segments):
        """How many merges of the sequence make the asked level."""
        if (threshold is None) == (n_segments is None):
            raise TypeError(
                "pass exactly one of threshold= (a height in [0, 1]) or n_segments= "
                "(a number of segments), e.g. h.cut(threshold=0.3)."
            )
        if threshold is not None:
            threshold = _check_threshold(threshold)
            return int(np.searchsorted(self.heights, threshold, side="right"))
        n_segments = check_n_segments(n_segments, None)
        if not self.n_roots <= n_segments <= self.n_leaves:
            raise ValueError(
                f"n_segments={n_segments} is out of range for this hierarchy: ask for "
                f"{self.n_roots} (the separate parts of the mask, which never merge) to "
                f"{self.n_leaves} (the leaf regions)."
            )
        return self.n_leaves - n_segments

    def __repr__(self):
        if self.heights.size:
            heights = (f"heights {self.heights[0]:.3g}..{self.heights[-1]:.3g} "
                       f"({self.thresholds.size} distinct)")
        else:
            heights = "no merges"
        return (f"{type(self).__name__}(shape={self.shape}, n_leaves={self.n_leaves}, "
                f"n_roots={self.n_roots}, {heights})")


class _CutIndex:
    """The merge tree laid out so that any level is a few vectorised passes.

    Leaves are listed in depth-first order of the tree, so every node covers a
    contiguous run of that list starting at ``start[node]``. The regions after
    ``m`` merges are the nodes created before step ``m`` whose parent is
    created at or after it; sorted by start, they tile the list.
    """

    def __init__(self, n_leaves, merges):
        n_merges = merges.shape[0]
        n_nodes = n_leaves + n_merges
        self.n_leaves = n_leaves
        self.node_ids = np.arange(n_nodes)
        parent = np.full(n_nodes, n_nodes, dtype=np.intp)  # roots hang from a node n_nodes
        parent[merges[:, 0]] = parent[merges[:, 1]] = n_leaves + np.arange(n_merges)
        self.parent = parent
        tree = sparse.csr_matrix(
            (np.ones(n_nodes, dtype=np.int8), (parent, np.arange(n_nodes))),
            shape=(n_nodes + 1, n_nodes + 1),
        )
        preorder = csgraph.depth_first_order(tree, n_nodes, directed=True,
                                             return_predecessors=False)[1:]
        is_leaf = preorder < n_leaves
        start = np.empty(n_nodes, dtype=np.intp)
        start[preorder] = np.cumsum(is_leaf) - is_leaf
        self.start = start
        self.leaf_in_order = preorder[is_leaf]

    def leaf_labels(self, n_merges):
        """Canonical label of every leaf after the first ``n_merges`` merges."""
        level = self.n_leaves + n_merges
        regions = np.flatnonzero((self.node_ids < level) & (self.parent >= level))
        starts = np.sort(self.start[regions])
        # leaves are numbered by first pixel, so a region's first pixel is its
        # smallest leaf's
        smallest = np.minimum.reduceat(self.leaf_in_order, starts)
        rank = np.empty(starts.size, dtype=np.intp)
        rank[np.argsort(smallest)] = np.arange(starts.size)
        labels = np.empty(self.n_leaves, dtype=np.intp)
        labels[self.leaf_in_order] = np.repeat(rank, np.diff(np.r_[starts, self.n_leaves]))
        return labels


def hierarchy(image, *, mask=None, channel_axis=None, globalization=True, merging=True,
              random_state=None, return_info=False):
    """Nested segmentations of a 2-D photograph, from its contours and regions.

    One computation gives every level: cut the result at any threshold or
    number of segments in milliseconds.

    Parameters
    ----------
    image : (M, N[, C]) array_like
        Grey or colour (RGB) image of any real dtype, at least 9 x 9 pixels.
        Values are divided by the image's maximum (after shifting a negative
        minimum to 0), so uint8, uint16 and float copies of one picture agree.
        Other channel counts than 1 and 3 (e.g. RGBA) are averaged into grey,
        with a warning.
    mask : (M, N) array_like of bool, optional
        Pixels to segment (nonzero = inside); the others get label -1.
    channel_axis : int, optional
        Axis holding the colour channels; None (the default, unlike
        scikit-image's) for a grey image: pass -1 for an (M, N, 3) RGB image.
    globalization : bool, optional
        Use the spectral globalization of the local cues (see
        :func:`specseg.contours`); False is faster and coarser.
    merging : bool, optional
        Merge the fine regions of the contour hierarchy again in the order of
        a learned boundary probability that also weighs what lies inside the
        regions (texture and colour histograms; see
        :mod:`specseg._merging`). False gives the plain contour hierarchy
        (gPb-OWT-UCM), whose heights are mean boundary strengths.
    random_state : None, int or numpy.random.Generator, optional
        Seeds the eigensolver. None means a fixed seed.
    return_info : bool, optional
        Also return a dict with the seconds of each stage (``"local"`` cues,
        ``"spectral"`` globalization, ``"ucm"``: leaves and contour merging,
        ``"merging"``: the learned merging, and ``"total"``), ``"n_leaves"``
        and ``"n_basins"`` (the watershed basins, leaves of the contour hierarchy).

    Returns
    -------
    h : Hierarchy
        ``h.cut(threshold=t)`` (t in [0, 1]) or ``h.cut(n_segments=k)`` gives
        labels like :func:`specseg.segment` (-1 outside the mask, ``0 .. n-1``
        numbered by first pixel in raster order); ``h.ucm`` is the ultrametric
        contour map. A threshold means the same on every image: about 0.6
        suits photographs like those of BSDS500 (see docs/bsds.md); with
        ``merging=False`` the heights are mean boundary strengths, and about 0.2.
    info : dict
        Only with ``return_info``.

    Examples
    --------
    >>> image = np.zeros((40, 60))
    >>> image[:, 30:] = 1.0
    >>> h = hierarchy(image)
    >>> labels = h.cut(n_segments=2)
    >>> labels.shape, int(labels.max()), bool((labels[:, :28] == 0).all())
    ((40, 60), 1, True)
    """
    from ._contours import _check_2d
    from ._validation import check_random_state, fill_no_data

    # NaN/inf (no data) outside the mask: filled in a copy (see fill_no_data)
    image = _check_2d(fill_no_data(image, mask, channel_axis), channel_axis)
    mask = check_mask(mask, image.shape[:-1])
    rng = check_random_state(random_state)
    result, info = _photo_hierarchy(image, mask=mask, globalization=globalization,
                                    merging=merging, random_state=rng)
    if return_info:
        return result, info
    return result


def _photo_hierarchy(image, *, mask, globalization, merging, random_state):
    """:func:`hierarchy` of a validated ``(M, N, C)`` image and mask: ``(h, info)``."""
    import time

    info = {}
    start = time.perf_counter()
    result, strength, maps = _contour_hierarchy(image, mask=mask, globalization=globalization,
                                                random_state=random_state, timings=info)
    info["n_basins"] = result.n_leaves
    if merging:
        clock = time.perf_counter()
        result = merged_hierarchy(result, strength, maps, mask=mask)
        info["merging"] = time.perf_counter() - clock
    info["total"] = time.perf_counter() - start
    info["n_leaves"] = result.n_leaves
    return result, info


def _contour_hierarchy(image, *, mask, globalization, random_state, timings):
    """The OWT-UCM of a validated image, its (smoothed) boundary map and its maps.

    Returns ``(hierarchy, strength, maps)``; ``maps`` are the image's
    :func:`specseg._features.colour_texture_maps`. ``timings`` receives the
    seconds of the ``"local"``, ``"spectral"`` and ``"ucm"`` stages.
    """
    import time

    from ._contours import boundary_map, oriented, texton_centres
    from ._features import colour_texture_maps

    clock = time.perf_counter()
    maps = colour_texture_maps(image, texton_centres())
    seconds_maps = time.perf_counter() - clock
    strength, angle = boundary_map(image, globalization=globalization,
                                   random_state=random_state, timings=timings, maps=maps)
    timings["local"] += seconds_maps  # the maps are part of the local cues
    clock = time.perf_counter()
    # The learned map is a band a few pixels wide with a flat, noisy top; its
    # noise would seed leaves inside the band that merge only at the band's
    # height (slivers along every boundary). A light blur leaves one crest.
    strength = ndi.gaussian_filter(strength, LEAF_SMOOTHING)
    result = ultrametric_hierarchy(strength, orientation=oriented(strength, angle), mask=mask)
    timings["ucm"] = time.perf_counter() - clock
    return result, strength, maps


def merged_hierarchy(contour_hierarchy, strength, maps, *, mask=None, predict=None):
    """Learned merging of the fine regions of a contour hierarchy.

    Parameters
    ----------
    contour_hierarchy : Hierarchy
        The OWT-UCM of the image; its cut at
        ``specseg._merging.SUPERPIXEL_THRESHOLD`` gives the new leaves.
    strength : (M, N) ndarray of float
        The boundary map it was built from.
    maps : tuple
        The image's ``(L, a, b, textons)``.
    mask : (M, N) ndarray of bool, optional
        As given to the contour hierarchy.
    predict : callable, optional
        Pair features -> boundary probability (the shipped network by default).

    Returns
    -------
    Hierarchy
        Leaves are the superpixels; heights are running maxima of the learned
        probabilities (see :func:`specseg._merging.learned_merging`).
    """
    from ._contours import texton_centres
    from ._merging import SUPERPIXEL_THRESHOLD, learned_merging

    regions = contour_hierarchy.cut(threshold=SUPERPIXEL_THRESHOLD)
    merges, heights, _, _, pair_height = learned_merging(
        regions, maps, strength, contour_hierarchy._pair_heights,
        n_textons=len(texton_centres()), predict=predict)
    # the superpixel pairs come in _leaf_arcs' order (learned_merging's pair_sums)
    first, second, axis = _boundary_pairs(regions)
    _, _, arc_of_pair = _leaf_arcs(regions.flat[first], regions.flat[second],
                                   int(regions.max()) + 1)
    pair_heights = _pair_height_maps(regions.shape, first, axis, pair_height[arc_of_pair])
    return Hierarchy(regions, merges, heights, pair_heights, mask)


def ultrametric_hierarchy(boundary, *, orientation=None, mask=None):
    """Build the hierarchy of regions of a boundary-strength map (OWT-UCM).

    Parameters
    ----------
    boundary : (M, N[, P]) array_like of float in [0, 1]
        Boundary strength at every pixel (e.g. the output of a contour
        detector). The leaves are its watershed basins.
    orientation : (n_orient, M, N) array_like of float in [0, 1], optional
        Oriented boundary strengths ``E(x, theta_o)``, ``theta_o = o pi /
        n_orient`` (see the module's orientation convention); 2-D only. When
        given, the oriented watershed transform weighs each edgel by the
        strength at the orientation of its arc's straight piece, not by
        ``boundary``.
    mask : (M, N[, P]) array_like of bool, optional
        Pixels to segment; the others get label -1 and regions never cross
        them.

    Returns
    -------
    hierarchy : Hierarchy
        Cut it with ``hierarchy.cut(threshold=t)`` or ``cut(n_segments=k)``.

    Notes
    -----
    1. *Leaves.* Watershed of ``boundary`` from its regional minima
       (4-connectivity, no watershed lines). An edgel (pair of neighbouring
       pixels in different leaves) has strength ``max(b[p], b[q])``: the
       crest of a boundary lies on one of its two sides. Without
       orientation, an arc between two leaves on the same side of a strong
       boundary also counts the edgels where it meets that boundary, between
       two of its crest pixels; small leaves walled in by a strong boundary
       (in its corners) can so merge as late as about half its strength.
    2. *Oriented watershed transform* (with ``orientation``). The edgels of
       each arc are chained in order and the chain is split recursively at
       the edgel farthest from its chord until no edgel is more than
       ``SEGMENT_TOLERANCE`` pixels away; an edgel then has strength
       ``max(E[o, p], E[o, q])`` with ``o`` the orientation bin nearest to its
       piece's direction. Arcs that cross a strong boundary at an angle (the
       common artefact of watersheds next to strong edges) then weigh little.
    3. *Ultrametric contour map.* Greedy merging: the two adjacent regions
       joined by the arc of least mean strength merge; the arcs of the merged
       region to a common neighbour join and their strength becomes the
       length-weighted mean of all their edgels. A merge's height is the
       largest arc strength merged so far, so heights never fall and the
       distance "height at which two pixels first share a region" is an
       ultrametric. Heights keep the scale of ``boundary`` (no per-image
       normalisation), so one threshold means the same on every image.

    The result is the greedy mean-boundary merging of gPb-owt-ucm's UCM,
    exactly when arc strengths are distinct (computed in batches that the
    greedy order provably agrees with; see ``_agglomerate``); arcs of equal
    strength are ordered deterministically.

    References
    ----------
    .. [1] P. Arbeláez, M. Maire, C. Fowlkes and J. Malik, "Contour detection
           and hierarchical image segmentation", IEEE TPAMI 33(5), 2011.
           :doi:`10.1109/TPAMI.2010.161`

    Examples
    --------
    Three columns of flat regions separated by boundaries of strength 0.2 and 0.7:

    >>> boundary = np.zeros((3, 9))
    >>> boundary[:, 2:4] = 0.2
    >>> boundary[:, 5:7] = 0.7
    >>> h = ultrametric_hierarchy(boundary)
    >>> h
    Hierarchy(shape=(3, 9), n_leaves=3, n_roots=1, heights 0.2..0.7 (2 distinct))
    >>> h.cut(threshold=0.5)[0]
    array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    >>> h.ucm[0]
    array([0. , 0. , 0.2, 0. , 0. , 0.7, 0. , 0. , 0. ])
    """
    boundary = _check_strength(boundary, "boundary")
    if boundary.ndim not in (2, 3):
        raise ValueError(
            f"boundary must be a 2-D or 3-D map, got shape {boundary.shape}; for a colour "
            "image compute its boundary strength first (one value per pixel)."
        )
    mask = check_mask(mask, boundary.shape)
    if orientation is not None:
        orientation = _check_orientation(orientation, boundary.shape)

    leaves = _watershed_leaves(boundary, mask)
    n_leaves = int(leaves.max()) + 1
    first, second, axis = _boundary_pairs(leaves)
    arc_a, arc_b, arc_of_pair = _leaf_arcs(leaves.flat[first], leaves.flat[second], n_leaves)
    if orientation is None:
        strength = np.maximum(boundary.flat[first], boundary.flat[second])
    else:
        strength = _oriented_strength(orientation, boundary.shape, first, second, axis,
                                      arc_of_pair)
    n_arcs = arc_a.size
    total = np.bincount(arc_of_pair, weights=strength, minlength=n_arcs)
    length = np.bincount(arc_of_pair, minlength=n_arcs).astype(np.float64)
    merges, heights, arc_height = _agglomerate(n_leaves, arc_a, arc_b, total, length)
    pair_heights = _pair_height_maps(leaves.shape, first, axis, arc_height[arc_of_pair])
    return Hierarchy(leaves, merges, heights, pair_heights, mask)


# ---------------------------------------------------------------- validation


def _check_strength(values, name):
    """A finite real array in [0, 1], as float64."""
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real array, got dtype {values.dtype}.")
    if values.size == 0:
        raise ValueError(f"{name} is empty (shape {values.shape}); pass a non-empty map.")
    values = values.astype(np.float64, copy=False)
    if not np.isfinite(values).all():
        raise ValueError(
            f"{name} contains NaN or inf; replace them (e.g. np.nan_to_num) before "
            "building the hierarchy."
        )
    low, high = float(values.min()), float(values.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{low:.4g}, {high:.4g}]; rescale it "
            "with one fixed scale for all images (e.g. np.clip(b, 0, 1) or b / 255 for "
            "8-bit maps), not per image, so that thresholds keep their meaning."
        )
    return values


def _check_orientation(orientation, shape):
    orientation = _check_strength(orientation, "orientation")
    if len(shape) != 2 or orientation.ndim != 3 or orientation.shape[1:] != shape:
        raise ValueError(
            f"orientation must have shape (n_orient, {', '.join(map(str, shape))}) for a "
            f"2-D boundary map of shape {shape}, got {orientation.shape}; stack the oriented "
            "strengths on the first axis (theta_o = o * pi / n_orient)."
        )
    return orientation.reshape(orientation.shape[0], -1)


def _check_threshold(threshold):
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(
            f"threshold must be a real number in [0, 1], got {type(threshold).__name__} "
            f"{threshold!r}."
        )
    threshold = float(threshold)
    if not 0 <= threshold <= 1:  # also refuses NaN
        raise ValueError(
            f"threshold must lie in [0, 1] (the scale of the boundary map), got {threshold!r}."
        )
    return threshold


def _read_only(array):
    array = np.asarray(array)
    array.flags.writeable = False
    return array


# ---------------------------------------------------------------- leaves and arcs


def _watershed_leaves(boundary, mask):
    """Watershed basins of ``boundary`` from its regional minima, numbered canonically."""
    from skimage.morphology import local_minima
    from skimage.segmentation import watershed

    from ._clustering import canonical_labels

    relief = boundary
    if mask is not None:
        # above every value inside, so each part of the mask holds a minimum of its own
        relief = np.where(mask, boundary, 2.0)
    markers, n_markers = ndi.label(local_minima(relief, connectivity=1))
    # a part that is flat all over has no minimum by skimage's definition: its
    # first pixel seeds it
    parts, n_parts = ndi.label(np.ones(boundary.shape, bool) if mask is None else mask)
    seeded = np.zeros(n_parts + 1, dtype=bool)
    seeded[parts[markers > 0]] = True
    seeded[0] = True
    if not seeded.all():
        flat_parts, first = np.unique(parts.ravel(), return_index=True)
        unseeded = first[~seeded[flat_parts]]
        markers.flat[unseeded] = n_markers + 1 + np.arange(unseeded.size)
    basins = watershed(boundary, markers, connectivity=1, mask=mask)
    return canonical_labels(basins - 1)


def _boundary_pairs(leaves):
    """Neighbouring pixels in different leaves (both inside the mask).

    Returns the flat index of the first pixel of each pair (the one with the
    lower coordinate), of the second, and the axis along which they neighbour;
    pairs are listed axis by axis, in raster order of the first pixel.
    """
    firsts, axes = [], []
    strides = np.cumprod((1,) + leaves.shape[:0:-1])[::-1]
    for axis in range(leaves.ndim):
        lower = tuple(slice(None, -1) if a == axis else slice(None) for a in range(leaves.ndim))
        upper = tuple(slice(1, None) if a == axis else slice(None) for a in range(leaves.ndim))
        a, b = leaves[lower], leaves[upper]
        cut = (a != b) & (a >= 0) & (b >= 0)
        firsts.append(np.ravel_multi_index(np.nonzero(cut), leaves.shape))
        axes.append(np.full(firsts[-1].size, axis, dtype=np.intp))
    first = np.concatenate(firsts)
    axis = np.concatenate(axes)
    return first, first + strides[axis], axis


def _leaf_arcs(leaf_first, leaf_second, n_leaves):
    """The arcs (pairs of adjacent leaves, ``a < b``) and the arc of every pair."""
    low = np.minimum(leaf_first, leaf_second).astype(np.int64)
    high = np.maximum(leaf_first, leaf_second).astype(np.int64)
    keys, arc_of_pair = np.unique(low * n_leaves + high, return_inverse=True)
    return keys // n_leaves, keys % n_leaves, arc_of_pair.ravel()


def _pair_height_maps(shape, first, axis, pair_height):
    """Per axis, the height of every forward pair (0 where no arc runs)."""
    maps = []
    for ax in range(len(shape)):
        reduced = tuple(n - 1 if a == ax else n for a, n in enumerate(shape))
        height = np.zeros(reduced)
        on_axis = axis == ax
        coords = np.unravel_index(first[on_axis], shape)
        height[coords] = pair_height[on_axis]
        maps.append(height)
    return maps


# ---------------------------------------------------------------- oriented watershed


def _oriented_strength(orientation, shape, first, second, axis, arc_of_pair):
    """Edgel strengths of the oriented watershed transform (2-D).

    Each arc's edgels are chained by shared grid corners, the chains are split
    into straight pieces, and every edgel reads the oriented strength at its
    piece's orientation bin on both of its pixels.
    """
    n_orient = orientation.shape[0]
    if not first.size:  # a single leaf
        return np.zeros(0)
    cols = shape[1]
    row, col = np.divmod(first, cols)
    along_rows = axis == 0
    # an edgel between vertical neighbours is a horizontal unit segment on the
    # corner grid (corners (r, c) with 0 <= c <= cols), and vice versa
    corner_a = np.where(along_rows, (row + 1) * (cols + 1) + col, row * (cols + 1) + col + 1)
    corner_b = corner_a + np.where(along_rows, 1, cols + 1)
    middle = np.column_stack([row + np.where(along_rows, 1.0, 0.5),
                              col + np.where(along_rows, 0.5, 1.0)])
    chain, rank = _chain_edgels(arc_of_pair, corner_a, corner_b)
    order = np.lexsort((rank, chain))
    chain_starts = np.flatnonzero(np.r_[True, chain[order][1:] != chain[order][:-1]])
    chain_ends = np.r_[chain_starts[1:], order.size] - 1
    seg_start, seg_end = _split_chains(middle[order], chain_starts, chain_ends)
    direction = middle[order][seg_end] - middle[order][seg_start]
    single = seg_start == seg_end  # a one-edgel arc: the edgel's own direction
    own = np.where(along_rows[order][seg_start], 0, 1)
    direction[single] = np.column_stack([own, 1 - own])[single]
    theta = np.mod(np.arctan2(direction[:, 1], direction[:, 0]), np.pi)
    seg_bin = np.rint(theta / (np.pi / n_orient)).astype(np.intp) % n_orient
    owner = np.searchsorted(seg_start, np.arange(order.size), side="right") - 1
    bins = np.empty(order.size, dtype=np.intp)
    bins[order] = seg_bin[owner]
    return np.maximum(orientation[bins, first], orientation[bins, second])


def _chain_edgels(arc_of_pair, corner_a, corner_b):
    """Order the edgels of every arc into chains.

    Two edgels of one arc are linked when they share a grid corner that no
    other edgel of that arc touches (a corner touched four times, a
    checkerboard, links nothing). Closed chains are opened at their first
    edgel. Returns each edgel's chain id and its rank along the chain.
    """
    n_edgels = arc_of_pair.size
    n_corners = int(max(corner_a.max(), corner_b.max())) + 1
    keys = np.r_[arc_of_pair, arc_of_pair].astype(np.int64) * n_corners + np.r_[corner_a, corner_b]
    edgel = np.r_[np.arange(n_edgels), np.arange(n_edgels)]
    order = np.argsort(keys, kind="stable")
    keys, edgel = keys[order], edgel[order]
    group_start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    group_size = np.diff(np.r_[group_start, keys.size])
    pairs = group_start[group_size == 2]
    u, v = edgel[pairs], edgel[pairs + 1]
    degree = np.bincount(np.r_[u, v], minlength=n_edgels)
    links = sparse.coo_matrix((np.ones(u.size), (u, v)), shape=(n_edgels, n_edgels)).tocsr()
    n_chains, chain = csgraph.connected_components(links, directed=False)
    # a closed chain (no end) is opened by dropping one link at its first edgel
    has_end = np.zeros(n_chains, dtype=bool)
    has_end[chain[degree < 2]] = True
    loop_first = np.full(n_chains, n_edgels)
    np.minimum.at(loop_first, chain, np.arange(n_edgels))
    opened = np.zeros(n_edgels, dtype=bool)
    opened[loop_first[~has_end]] = True
    touching = np.flatnonzero(opened[u] | opened[v])
    if touching.size:
        node = np.where(opened[u[touching]], u[touching], v[touching])
        _, first_link = np.unique(node, return_index=True)
        keep = np.ones(u.size, dtype=bool)
        keep[touching[first_link]] = False
        u, v = u[keep], v[keep]
        degree = np.bincount(np.r_[u, v], minlength=n_edgels)
        links = sparse.coo_matrix((np.ones(u.size), (u, v)), shape=(n_edgels, n_edgels)).tocsr()
    ends = np.flatnonzero(degree < 2)
    _, first_end = np.unique(chain[ends], return_index=True)
    starts = ends[first_end]
    rank = csgraph.dijkstra(links, directed=False, indices=starts, min_only=True,
                            unweighted=True)
    return chain, rank


def _split_chains(points, chain_starts, chain_ends, *, tolerance=SEGMENT_TOLERANCE):
    """Split chains of points into straight pieces at the farthest point (Douglas-Peucker).

    All pieces are split at once, level by level. Returns the first and last
    point of every piece, sorted; consecutive pieces of a chain share a point.
    """
    done_start, done_end = [], []
    start, end = chain_starts, chain_ends
    while start.size:
        inner = end - start - 1
        long = inner > 0
        done_start.append(start[~long])
        done_end.append(end[~long])
        start, end, inner = start[long], end[long], inner[long]
        if not start.size:
            break
        piece = np.repeat(np.arange(start.size), inner)
        offset = np.r_[0, np.cumsum(inner)[:-1]]
        index = np.arange(piece.size) - offset[piece] + start[piece] + 1
        a, b = points[start][piece], points[end][piece]
        chord = b - a
        rel = points[index] - a
        distance = np.abs(chord[:, 0] * rel[:, 1] - chord[:, 1] * rel[:, 0])
        distance /= np.hypot(chord[:, 0], chord[:, 1])
        farthest = np.maximum.reduceat(distance, offset)
        split = farthest > tolerance
        at = np.where(distance == farthest[piece], index, np.iinfo(np.intp).max)
        at = np.minimum.reduceat(at, offset)
        done_start.append(start[~split])
        done_end.append(end[~split])
        start = np.r_[start[split], at[split]]
        end = np.r_[at[split], end[split]]
    seg_start, seg_end = np.concatenate(done_start), np.concatenate(done_end)
    order = np.argsort(seg_start, kind="stable")
    return seg_start[order], seg_end[order]


# ---------------------------------------------------------------- agglomeration

#: Batched rounds stop, and the heap takes over, once a round merges fewer than
#: this fraction of the remaining arcs (a round costs a few passes over all arcs).
_MIN_ROUND_FRACTION = 1 / 128


def _agglomerate(n_leaves, arc_a, arc_b, total, length):
    """Greedy merging by mean arc strength (the UCM of gPb-owt-ucm).

    Parameters
    ----------
    n_leaves : int
    arc_a, arc_b : (n_arcs,) ndarray of int
        The two leaves of each arc.
    total, length : (n_arcs,) ndarray of float
        Sum of the edgel strengths of each arc, and its number of edgels.

    Returns
    -------
    merges : (n_merges, 2) ndarray of int
        Node ids merged at each step, in order of height (scipy's linkage
        convention: step ``k`` creates node ``n_leaves + k``).
    heights : (n_merges,) ndarray of float
        Non-decreasing merge heights.
    arc_height : (n_arcs,) ndarray of float
        The height of the merge that joins the two leaves of each arc.

    Notes
    -----
    The mean-boundary linkage is *reducible*: the arc from ``A + B`` to ``C``
    is a length-weighted mean of the arcs from ``A`` and from ``B``, so it is
    never weaker than the weaker of them. Hence two regions that are each
    other's weakest arc (reciprocal nearest neighbours) merge at that arc's
    strength in the greedy sequence whatever else merges first, and all such
    pairs can be merged at once, as in the nearest-neighbour-chain algorithm
    of hierarchical clustering. Vectorised rounds of these merges do the bulk;
    a heap does the tail, where rounds merge few pairs. Sorting the merges by
    height then gives the greedy sequence exactly when arc strengths are
    distinct (ties are broken deterministically, not necessarily as a plain
    heap would).
    """
    state = _Merging(n_leaves, arc_a, arc_b, total, length)
    while state.n_arcs and state.merge_reciprocal_pairs():
        pass
    if state.n_arcs:
        state.merge_by_heap()
    return state.result()


def _weakest_arcs(a, b, weight, n_regions):
    """Each region's weakest arc; among equal weights, the first arc."""
    least = np.full(n_regions, np.inf)
    np.minimum.at(least, a, weight)
    np.minimum.at(least, b, weight)
    first = np.full(n_regions, weight.size, dtype=np.intp)
    for ends in (a, b):
        ties = np.flatnonzero(weight == least[ends])
        np.minimum.at(first, ends[ties], ties)
    return first


class _Merging:
    """The region graph during agglomeration, and the merges made so far.

    Regions are numbered ``0 .. n_regions - 1`` afresh after every round;
    ``node`` holds each region's node id in the merge tree. Every original
    leaf arc knows the current arc it belongs to (``arc_of_leaf_arc``, -1 once
    merged) and the step at which its two leaves joined.
    """

    def __init__(self, n_leaves, arc_a, arc_b, total, length):
        self.n_leaves = n_leaves
        self.a, self.b = arc_a.astype(np.intp), arc_b.astype(np.intp)
        self.total, self.length = total.astype(np.float64), length.astype(np.float64)
        self.node = np.arange(n_leaves)
        self.children, self.heights = [], []
        self.arc_of_leaf_arc = np.arange(arc_a.size)
        self.leaf_arc_step = np.full(arc_a.size, -1, dtype=np.intp)

    @property
    def n_arcs(self):
        return self.a.size

    def merge_reciprocal_pairs(self):
        """One round: merge every pair of regions joined by both ones' weakest arc.

        Returns False, merging nothing, when too few pairs would merge.
        """
        weight = self.total / self.length
        n_arcs, n_regions = self.a.size, self.node.size
        weakest = _weakest_arcs(self.a, self.b, weight, n_regions)
        arcs = np.arange(n_arcs)
        merged = (weakest[self.a] == arcs) & (weakest[self.b] == arcs)
        picked = np.flatnonzero(merged)
        if picked.size < _MIN_ROUND_FRACTION * n_arcs:
            return False
        # the merged arcs form a matching: region b joins region a
        first_step = len(self.heights)
        self._record(self.node[self.a[picked]], self.node[self.b[picked]], weight[picked])
        step_of_arc = np.full(n_arcs, -1, dtype=np.intp)
        step_of_arc[picked] = first_step + np.arange(picked.size)
        survivor = np.ones(n_regions, dtype=bool)
        survivor[self.b[picked]] = False
        new_id = np.cumsum(survivor) - 1
        target = np.arange(n_regions)
        target[self.b[picked]] = self.a[picked]
        relabel = new_id[target]
        node = self.node[survivor]
        node[new_id[self.a[picked]]] = self.n_leaves + first_step + np.arange(picked.size)
        self.node = node
        kept = ~merged
        a, b = relabel[self.a[kept]], relabel[self.b[kept]]
        low, high = np.minimum(a, b), np.maximum(a, b)
        keys, inverse = np.unique(low * node.size + high, return_inverse=True)
        inverse = inverse.ravel()
        self.total = np.bincount(inverse, weights=self.total[kept], minlength=keys.size)
        self.length = np.bincount(inverse, weights=self.length[kept], minlength=keys.size)
        self.a, self.b = keys // node.size, keys % node.size
        new_arc = np.full(n_arcs, -1, dtype=np.intp)
        new_arc[kept] = inverse
        self._follow_arcs(step_of_arc, new_arc)
        return True

    def merge_by_heap(self):
        """Merge the remaining regions one at a time, weakest arc first."""
        n_arcs = self.a.size
        total, length = self.total.tolist(), self.length.tolist()
        weight = [t / n for t, n in zip(total, length, strict=True)]
        end_a, end_b = self.a.tolist(), self.b.tolist()
        neighbours = [{} for _ in range(self.node.size)]
        for arc, (a, b) in enumerate(zip(end_a, end_b, strict=True)):
            neighbours[a][b] = arc
            neighbours[b][a] = arc
        alive = [True] * n_arcs
        absorbed_into = list(range(n_arcs))
        step_of_arc = [0] * n_arcs
        node = self.node.tolist()
        children, heights = self.children, self.heights
        heap = list(zip(weight, range(n_arcs), strict=True))
        heapq.heapify(heap)
        pop, push = heapq.heappop, heapq.heappush
        while heap:
            w, arc = pop(heap)
            if not alive[arc] or w != weight[arc]:
                continue  # merged, or an outdated entry
            keep, gone = end_a[arc], end_b[arc]
            # the region with fewer neighbours is folded into the other
            if len(neighbours[keep]) < len(neighbours[gone]):
                keep, gone = gone, keep
            step = len(heights)
            heights.append(w)
            children.append((node[keep], node[gone]))
            node[keep] = self.n_leaves + step
            alive[arc] = False
            step_of_arc[arc] = step
            kept = neighbours[keep]
            del kept[gone]
            for other, moved in neighbours[gone].items():
                if other == keep:
                    continue
                theirs = neighbours[other]
                del theirs[gone]
                common = kept.get(other)
                if common is None:
                    kept[other] = moved
                    theirs[keep] = moved
                    if end_a[moved] == gone:
                        end_a[moved] = keep
                    else:
                        end_b[moved] = keep
                else:
                    total[common] += total[moved]
                    length[common] += length[moved]
                    alive[moved] = False
                    absorbed_into[moved] = common
                    weight[common] = new = total[common] / length[common]
                    push(heap, (new, common))
            neighbours[gone] = None
        # every arc ends inside an arc that was merged; find it by pointer jumping
        root = np.asarray(absorbed_into, dtype=np.intp)
        while not np.array_equal(root[root], root):
            root = root[root]
        self._follow_arcs(np.asarray(step_of_arc, dtype=np.intp)[root],
                          np.full(n_arcs, -1, dtype=np.intp))
        self.a = self.b = np.empty(0, dtype=np.intp)

    def _record(self, node_a, node_b, heights):
        self.children.extend(zip(node_a.tolist(), node_b.tolist(), strict=True))
        self.heights.extend(heights.tolist())

    def _follow_arcs(self, step_of_arc, new_arc):
        """Give the leaf arcs of merged arcs their step; move the others along."""
        live = np.flatnonzero(self.arc_of_leaf_arc >= 0)
        current = self.arc_of_leaf_arc[live]
        step = step_of_arc[current]
        done = step >= 0
        self.leaf_arc_step[live[done]] = step[done]
        self.arc_of_leaf_arc[live] = np.where(done, -1, new_arc[current])

    def result(self):
        """Merges sorted by height, renumbered, and the height of every leaf arc."""
        n_leaves = self.n_leaves
        children = np.asarray(self.children, dtype=np.intp).reshape(-1, 2)
        heights = np.asarray(self.heights, dtype=np.float64)
        # a merge is never below its children's: reducibility guarantees it up to
        # rounding, and the sort below needs it exactly
        below = np.where(children >= n_leaves, children - n_leaves, -1)
        padded = np.r_[heights, 0.0]  # index -1: a leaf, height 0
        while True:
            raised = np.maximum(heights, padded[below].max(axis=1))
            if np.array_equal(raised, heights):
                break
            heights = raised
            padded = np.r_[heights, 0.0]
        order = np.argsort(heights, kind="stable")
        new_step = np.empty(order.size, dtype=np.intp)
        new_step[order] = np.arange(order.size)
        renumber = np.r_[np.arange(n_leaves), n_leaves + new_step]
        merges = np.sort(renumber[children[order]], axis=1)
        heights = heights[order]
        return merges, heights, heights[new_step[self.leaf_arc_step]]

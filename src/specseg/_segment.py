"""Image -> labels: :func:`segment` composes graph, embedding and assignment."""

from __future__ import annotations

import operator
import time

import numpy as np
from scipy import ndimage
from scipy.sparse import csgraph

from ._allocator import prefaulted, reuse_freed_memory
from ._assign import ASSIGN_METHODS
from ._clustering import _cluster, canonical_labels
from ._contrast import robust_partition
from ._embedding import SOLVERS, _touched_bytes
from ._features import block_reduce, image_features
from ._graph import pixel_graph
from ._memory import check_memory as _check_memory
from ._regions import (
    COLOUR_SPACES,
    _diagonal_detail_medians,
    _noise_sample,
    _region_graph,
    pixel_noise,
    snap_boundaries,
)
from ._validation import (
    check_mask,
    check_n_segments,
    check_option,
    check_random_state,
    fill_no_data,
)

__all__ = ["segment"]


MODES = ("auto", "pixels", "regions", "contours")

#: "auto" uses the region graph for images (or masks) with at least this many pixels.
AUTO_REGIONS_MIN_PIXELS = 48 * 48
#: ... and for a mask only where the image, averaged over windows of
#: ``FLAT_WINDOW`` pixels inside the mask, varies by more than this many times
#: what its pixel noise alone leaves after that averaging (the seed example's
#: discs of one grey level: 1.0-1.1 at 100² to 800² and noise 0.2 or 0.5;
#: masked shapes of several grey levels at noise 0.25: 23, at 0.1: 139; masked
#: noisy balls 54-137). The variance before averaging told them apart less
#: well (0.94-1.0 against 1.5-2.3 on those noisy shapes and balls: noise that
#: large hides small objects in it).
AUTO_FLAT_FACTOR = 5.0
#: Side (pixels) of the windows that test averages over.
FLAT_WINDOW = 5
#: "auto" uses the "contours" mode on 2-D frames whose noise (see
#: :func:`noise_level`) is at most this fraction of the value range: 95 % of the
#: BSDS500 train photographs lie under 0.027 (median 0.009), while the noisy
#: synthetic scenes of docs/quality-table.md start at 0.036 and are better
#: served by region statistics, which average the noise out.
AUTO_CONTOURS_MAX_NOISE = 0.03
#: ``n_segments="auto"`` considers at most this many segments.
AUTO_MAX_SEGMENTS = 16
#: ``n_segments="auto"`` in the "contours" mode cuts the hierarchy here (the
#: threshold of best covering over the BSDS500 train split, docs/bsds.md).
AUTO_THRESHOLD = 0.6
#: The "contours" mode works on frames of at most this many pixels; a larger
#: frame is averaged over blocks down to this size, and its labels are brought
#: back to full resolution and their boundaries snapped to the image.
CONTOURS_MAX_PIXELS = 1_000_000


def segment(
    image,
    n_segments=8,
    *,
    mode="auto",
    mask=None,
    channel_axis=None,
    beta=None,
    connectivity=1,
    spacing=None,
    n_regions=None,
    colour_space="auto",
    solver="auto",
    assign="cluster_qr",
    refine=True,
    random_state=None,
    progress=None,
    return_info=False,
    check_memory=True,
    max_memory=None,
    threshold=None,
):
    """Segment a 2-D or 3-D image by the normalized cut of its pixel or region graph.

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        Grey or multichannel image of any real dtype.
    n_segments : int or "auto", optional
        Number of segments, or "auto" to choose it from the largest gap between
        consecutive eigenvalues of the normalized Laplacian (at most
        ``AUTO_MAX_SEGMENTS``).
    mode : {"auto", "pixels", "regions", "contours"}, optional
        "pixels" cuts the graph of neighbouring pixels (:func:`pixel_graph`);
        "regions" cuts a graph of superpixels (:func:`region_graph`), which is
        much better and faster on whole frames (with ``refine``, where slow
        shading may have misled the cut, a partition by affine region models
        can replace it; see ``specseg._contrast``). "contours" (2-D only) cuts the
        hierarchy of :func:`hierarchy`, built from learned boundary cues and
        their spectral globalization: the mode for photographs; with
        ``n_segments="auto"`` it cuts at ``threshold`` (default
        ``AUTO_THRESHOLD``). "auto" picks "pixels" for images (or masks) of
        fewer than ``AUTO_REGIONS_MIN_PIXELS`` pixels and for masks inside
        which the image varies by its noise alone (the mask's shape is what
        there is to segment, as in the seed example), "contours" for 2-D
        frames with little pixel noise (photographs, see :func:`noise_level`
        and ``AUTO_CONTOURS_MAX_NOISE``; "pixels" for such frames under 9
        pixels a side, too thin for the contour cues), and "regions"
        otherwise (noisy frames, volumes).
    mask : (M, N[, P]) array_like of bool, optional
        Pixels to segment (nonzero = inside). Pixels outside get label -1. They
        may be NaN or inf (no data, e.g. ``mask=np.isfinite(image)``): such
        pixels must be outside the mask, and are given the median of the pixels
        inside it (in a copy) before any statistic of the image is taken.
    channel_axis : int, optional
        Axis holding colour channels; None for a single-channel image.
    beta : float, optional
        Sharpness of the affinity kernel; default 1 for "pixels" (see
        :func:`pixel_graph`) and 4 for "regions" (see :func:`region_graph`).
    connectivity : int, optional
        Pixel neighbourhood, see :func:`pixel_graph` ("pixels" only).
    spacing : float or sequence of float, optional
        Pixel (voxel) size per spatial axis, or one for all, e.g. ``(5, 1, 1)``
        for slices five times as far apart as the pixels within one; only the
        ratios matter. "pixels" weights its edges by distance (see
        :func:`pixel_graph`), "regions" shapes its superpixels (SLIC's
        distances and smoothing); "contours" does not use it.
    n_regions : int, optional
        Approximate number of superpixels ("regions" only), see :func:`region_graph`.
    colour_space : {"auto", "lab", "input"}, optional
        "auto" and "lab" compare 3-channel (RGB) images in CIELAB; "input"
        uses the channels as given.
    solver : {"auto", "arpack", "lobpcg", "amg", "dense"}, optional
        Eigensolver, see :func:`spectral_embedding`.
    assign : {"cluster_qr", "kmeans", "discretize"}, optional
        Label assignment, see :func:`assign_labels`.
    refine : bool, optional
        Polish the labels by local moves that lower the normalized cut.
    random_state : None, int or numpy.random.Generator, optional
        Seeds every random choice; the same value gives the same labels.
    progress : callable, optional
        Called as ``progress(stage, fraction)`` when a stage starts
        (``fraction=0.0``) and ends (``1.0``); stages are "graph", "embedding",
        "assignment" and "refinement", then "merging" and "boundaries" in the
        region mode; "hierarchy" and "cut" in the contour mode (between
        "downsampling" and "boundaries" for a frame above
        ``CONTOURS_MAX_PIXELS``, averaged over blocks). For progress
        bars and logging.
    return_info : bool, optional
        Also return a dict describing the run: ``mode`` (the mode used),
        ``n_segments`` (the number used, chosen when "auto"), ``solver``,
        ``eigenvalues``, ``residuals`` (eigen-residual norms), ``ncut``,
        ``n_nodes``, ``n_components`` (connected components of the graph) and
        ``timings`` (seconds per stage). The "contours" mode gives ``mode``,
        ``n_segments``, ``threshold`` (None for a cut by number), ``n_nodes``
        (leaf regions), ``n_components``, ``hierarchy`` (the
        :class:`Hierarchy`, to cut again; above ``CONTOURS_MAX_PIXELS`` it is
        the hierarchy of the frame averaged over blocks, so its cuts and its
        ``ucm`` are smaller than the image) and ``timings``.
    check_memory : bool, optional
        Before anything large is allocated, compare :func:`estimate_memory` with
        the memory available and raise :class:`MemoryError` if the job would not
        fit. False skips the check.
    max_memory : int, optional
        Bytes the job may use, in place of the available memory reported by the
        operating system (for a shared machine, or for tests).
    threshold : float in [0, 1], optional
        "contours" mode with ``n_segments="auto"`` only: the level of the
        hierarchy to cut at (higher gives fewer, larger segments).

    Returns
    -------
    labels : (M, N[, P]) ndarray of int
        -1 outside the mask and ``0 .. n_segments - 1`` inside, numbered in order
        of each segment's first pixel in raster order.
    info : dict
        Only if ``return_info``.

    Raises
    ------
    MemoryError
        If ``check_memory`` and the estimated peak memory exceeds what is
        available; the message says how much is needed and what to do instead.

    Notes
    -----
    ``n_segments="auto"`` computes the ``m = AUTO_MAX_SEGMENTS + 1`` smallest
    eigenvalues ``0 = lambda_1 <= ... <= lambda_m`` and takes the ``k`` that
    maximises the relative eigengap ``lambda_{k+1} / lambda_k`` (see
    :func:`choose_n_segments`): a graph made of ``k`` weakly linked clusters
    has ``k`` eigenvalues near 0 and then a jump (von Luxburg 2007, section 8.3).

    References
    ----------
    .. [1] U. von Luxburg, "A tutorial on spectral clustering", Statistics and
           Computing 17(4), 2007. :doi:`10.1007/s11222-007-9033-z`

    Examples
    --------
    >>> from specseg.datasets import four_circles
    >>> image, mask, truth = four_circles(60, random_state=0)
    >>> labels = segment(image, 4, mask=mask, random_state=0)
    >>> labels.shape, int(labels.min()), int(labels.max())
    ((60, 60), -1, 3)
    >>> from specseg.datasets import shapes
    >>> image, truth = shapes(96, n_shapes=3, noise=0.05, random_state=0)
    >>> labels, info = segment(image, "auto", return_info=True)
    >>> info["mode"], info["n_segments"]
    ('regions', 4)
    """
    n_segments = check_n_segments(n_segments, None, allow_auto=True)  # before the graph
    if progress is not None and not callable(progress):
        raise TypeError(
            f"progress must be None or a function called as progress(stage, fraction), "
            f"got {type(progress).__name__} {progress!r}."
        )
    check_option("mode", mode, MODES)
    check_option("solver", solver, SOLVERS)
    check_option("assignment method", assign, ASSIGN_METHODS)
    check_option("colour space", colour_space, COLOUR_SPACES)
    rng = check_random_state(random_state)
    if mode != "contours":  # that mode refuses volumes, saying the same
        _warn_if_colour_read_as_slices(image, channel_axis)
    # NaN/inf (no data) outside the mask: filled in a copy, so that no statistic sees them
    image = fill_no_data(image, mask, channel_axis)
    # a constant image has no boundary to cut: "auto" gives one segment per
    # connected part (the eigengap of a uniform graph would pick some k > 1)
    constant = _constant_inside(image, mask, channel_axis) if n_segments == "auto" else None
    asked_mode = mode
    if mode == "auto":
        mode = _auto_mode(image, mask, channel_axis, constant=constant)
    if threshold is not None:
        from ._hierarchy import _check_threshold

        threshold = _check_threshold(threshold)  # before any work
    if threshold is not None and mode != "contours":
        chosen = (f"; mode='auto' chose {mode!r} for this image (small, noisy, a volume or "
                  "a mask over flat intensities): pass mode='contours' to cut the hierarchy"
                  if asked_mode == "auto" else "")
        raise ValueError(
            f"threshold= cuts the contour hierarchy; it needs mode='contours', not "
            f"{mode!r}{chosen}."
        )
    if mode == "contours":
        if check_memory:
            _check_memory(image, n_segments, max_memory=max_memory, channel_axis=channel_axis,
                          mode="contours")
        return _segment_contours(image, n_segments, mask=mask, channel_axis=channel_axis,
                                 threshold=threshold, rng=rng, progress=progress,
                                 return_info=return_info)
    if check_memory:  # from the shape alone: before the image is converted to float64
        _check_memory(image, n_segments, max_memory=max_memory, mask=mask, mode=mode,
                      channel_axis=channel_axis, connectivity=connectivity, solver=solver,
                      assign=assign, refine=refine)
    with reuse_freed_memory():
        stages = _StageClock(progress)
        with stages("graph"):
            if mode == "pixels":
                graph = pixel_graph(
                    image,
                    mask=mask,
                    channel_axis=channel_axis,
                    connectivity=connectivity,
                    beta=1.0 if beta is None else beta,
                    spacing=spacing,
                    colour_space=colour_space,
                )
            else:
                graph, stats, features = _region_graph(
                    image,
                    n_regions=n_regions,
                    mask=mask,
                    channel_axis=channel_axis,
                    superpixel_method="slic",
                    compactness=None,
                    beta=4.0 if beta is None else beta,
                    colour_space=colour_space,
                    spacing=spacing,
                )
        if mode == "regions" and n_segments != "auto" and n_segments > graph.n_nodes:
            raise ValueError(
                f"n_segments={n_segments} is more than the {graph.n_nodes} superpixel regions "
                "this image was divided into; ask for at most that many, pass a larger "
                "n_regions=, or use mode='pixels' (--mode pixels)."
            )
        n_segments = check_n_segments(n_segments, graph.n_nodes, allow_auto=True)
        if constant and n_segments == "auto":
            n_segments = int(csgraph.connected_components(graph.affinity, directed=False)[0])
        n_vectors = AUTO_MAX_SEGMENTS + 1 if n_segments == "auto" else n_segments
        with prefaulted(_touched_bytes(graph.affinity, n_vectors, solver)):
            node_labels, result = _cluster(graph.affinity, n_segments, solver=solver,
                                           assign=assign, refine=refine, tol=None, rng=rng,
                                           stages=stages, max_auto=AUTO_MAX_SEGMENTS)
        n_segments = result.eigenvalues.size
        if mode == "regions" and refine and n_segments > 1:
            noise = pixel_noise(features)
            with stages("merging"):
                node_labels = robust_partition(features, graph.node_map, stats, node_labels,
                                               n_segments, noise=noise)
            with stages("boundaries"):
                labels = _snap(features, graph.to_image(node_labels), graph, noise)
        else:
            labels = graph.to_image(node_labels)
    labels = canonical_labels(labels)
    if not return_info:
        return labels
    from .metrics import _ncut

    info = {
        "mode": mode,
        "n_segments": n_segments,
        "n_nodes": graph.n_nodes,
        "solver": result.solver,
        "assign": assign,
        "eigenvalues": result.eigenvalues.tolist(),
        "residuals": result.residuals.tolist(),
        "n_components": result.n_components,
        "ncut": _ncut(graph.affinity, node_labels),  # graphs we built need no validation
        "timings": dict(stages.timings),
    }
    return labels, info


def _segment_contours(image, n_segments, *, mask, channel_axis, threshold, rng, progress,
                      return_info):
    """The "contours" mode: one level of the photograph hierarchy."""
    from ._contours import _check_2d
    from ._hierarchy import _photo_hierarchy

    if threshold is not None and n_segments not in (None, "auto"):
        raise ValueError(
            f"threshold={threshold} and n_segments={n_segments} both choose the level "
            "(n_segments is 8 unless given); pass n_segments='auto' with a threshold, e.g. "
            f"segment(image, 'auto', mode='contours', threshold={threshold})."
        )
    stages = _StageClock(progress)
    # 2-D, large enough, 1 or 3 channels (else a warning); says so before any work
    image = _check_2d(image, channel_axis, stacklevel=4)
    mask = check_mask(mask, image.shape[:-1])
    full_shape = image.shape[:-1]
    factor = _contours_factor(full_shape)
    work_image, work_mask = image, mask
    if factor > 1:
        with stages("downsampling"):
            work_image = block_reduce(image, factor, np.mean)
            if mask is not None:
                share = block_reduce(mask.astype(np.float32), factor, np.mean)
                work_mask = share > 0.5
                if not work_mask.any():  # a thin mask (a line, a comb): no block is
                    work_mask = share > 0  # mostly inside; take the blocks it touches
    with stages("hierarchy"):
        h, timings = _photo_hierarchy(work_image, mask=work_mask, globalization=True,
                                      merging=True, random_state=rng)
    with stages("cut"):
        if n_segments == "auto" or n_segments is None:
            cut_at = AUTO_THRESHOLD if threshold is None else threshold
            labels = h.cut(threshold=cut_at)
        else:
            n_segments = check_n_segments(n_segments, None)
            if n_segments > h.n_leaves:
                raise ValueError(
                    f"n_segments={n_segments} is more than the {h.n_leaves} finest regions "
                    "of this image's contour hierarchy; ask for at most that many, or use "
                    "mode='regions' (--mode regions) for finer segmentations."
                )
            if n_segments < h.n_roots:
                raise ValueError(
                    f"n_segments={n_segments} is fewer than the {h.n_roots} separate parts "
                    "of the mask, which never merge; ask for at least that many."
                )
            labels = h.cut(n_segments=n_segments)
            cut_at = None
    if factor > 1:
        with stages("boundaries"):
            labels = _upsample_labels(labels, factor, full_shape, mask)
            features = image_features(image, colour_space="auto")
            labels = canonical_labels(snap_boundaries(features, labels, width=factor))
    if not return_info:
        return labels
    # The hierarchy's own stages replace it, so the seconds add up to the whole.
    stage_times = {k: v for k, v in stages.timings.items() if k != "hierarchy"}
    stage_times.update({k: v for k, v in timings.items()
                        if k != "total" and not k.startswith("n_")})
    info = {
        "mode": "contours",
        "n_segments": int(labels.max()) + 1,
        "threshold": cut_at,
        "n_nodes": h.n_leaves,
        "n_components": h.n_roots,
        "hierarchy": h,
        "timings": stage_times,
    }
    return labels, info


def _contours_factor(shape):
    """Block side of the "contours" mode's working frame.

    The smallest that brings ``shape`` to ``CONTOURS_MAX_PIXELS`` pixels, but
    never one that leaves a side shorter than the cues' ``MIN_SIDE``: a long
    strip (12 x 100000) is worked on at a larger size rather than refused.
    """
    from ._contours import MIN_SIDE

    factor = _block_factor(shape, CONTOURS_MAX_PIXELS)
    while factor > 1 and min(-(-n // factor) for n in shape) < MIN_SIDE:
        factor -= 1
    return factor


def _block_factor(shape, max_pixels):
    """The smallest integer block side that brings ``shape`` to ``max_pixels``."""
    n_pixels = int(np.prod(shape))
    factor = 1
    while n_pixels / factor**2 > max_pixels:
        factor += 1
    return factor


def contour_map(h, shape):
    """The ultrametric contour map of a "contours"-mode hierarchy at the image's shape.

    A frame larger than ``CONTOURS_MAX_PIXELS`` is segmented averaged over
    blocks, so its hierarchy, and ``h.ucm``, are smaller than the image. This
    spreads the map back: the height between two blocks goes to the last row
    (or column) of pixels of the first block, so that, as for ``h.ucm``, a
    pixel holds the height that separates it from its lower or right
    neighbour, and ``contour_map(h, shape) > t`` marks the boundaries of
    ``h.cut(threshold=t)`` brought to full resolution by repeating each block.

    Parameters
    ----------
    h : Hierarchy
        ``info["hierarchy"]`` of :func:`segment` in the "contours" mode.
    shape : tuple of int
        The image's spatial shape (that of the labels).

    Returns
    -------
    ucm : ndarray of float64
        ``shape``-shaped; ``h.ucm`` itself when the frame was not averaged down.

    Examples
    --------
    >>> from specseg._hierarchy import ultrametric_hierarchy
    >>> boundary = np.zeros((2, 4))
    >>> boundary[:, 2] = 0.5
    >>> h = ultrametric_hierarchy(boundary)  # as of a (4, 8) frame averaged 2 x 2
    >>> h.ucm[0]
    array([0. , 0. , 0.5, 0. ])
    >>> contour_map(h, (4, 8))[0]
    array([0. , 0. , 0. , 0. , 0. , 0.5, 0. , 0. ])
    """
    shape = tuple(shape)
    if h.shape == shape:
        return h.ucm
    factor = max(-(-n // m) for n, m in zip(shape, h.shape, strict=True)) if len(
        shape) == len(h.shape) else 0
    if factor < 2 or tuple(-(-n // factor) for n in shape) != h.shape:
        raise ValueError(
            f"this hierarchy, of shape {h.shape}, is not of an image of shape {shape} "
            "averaged over blocks; pass the shape of the image it was made from."
        )
    vertical, horizontal = h._pair_heights  # pairs along rows, along columns
    rows, cols = np.arange(shape[0]), np.arange(shape[1])
    out = np.zeros(shape)
    # a pixel whose lower (right) neighbour lies in the next block
    edge_rows = rows[((rows + 1) % factor == 0) & (rows + 1 < shape[0])]
    edge_cols = cols[((cols + 1) % factor == 0) & (cols + 1 < shape[1])]
    out[edge_rows, :] = vertical[np.ix_(edge_rows // factor, cols // factor)]
    out[:, edge_cols] = np.maximum(out[:, edge_cols],
                                   horizontal[np.ix_(rows // factor, edge_cols // factor)])
    return out


def _upsample_labels(labels, factor, shape, mask):
    """Labels of blocks spread to their pixels; inside the mask, never -1."""
    from scipy import ndimage

    fine = np.repeat(np.repeat(labels, factor, axis=0), factor, axis=1)[: shape[0], : shape[1]]
    if mask is None:
        return fine
    missing = mask & (fine < 0)
    if missing.any():  # a pixel of the mask in a block mostly outside it: nearest label
        _, (rows, cols) = ndimage.distance_transform_edt(fine < 0, return_indices=True)
        fine = np.where(missing, fine[rows, cols], fine)
    return np.where(mask, fine, -1)


def _snap(features, labels, graph, noise):
    """Pixel-accurate boundaries for a region segmentation (see ``snap_boundaries``)."""
    n_pixels = labels.size if graph.mask is None else int(graph.mask.sum())
    side = (n_pixels / max(graph.n_nodes, 1)) ** (1.0 / labels.ndim)
    return snap_boundaries(features, labels, width=int(np.ceil(side / 2)), noise=noise)


def _auto_mode(image, mask, channel_axis, *, constant=None):
    """"pixels" for small inputs and for masks over flat intensities; "contours"
    for clean 2-D frames (photographs); "regions" for noisy frames and volumes.
    ``constant``: :func:`_constant_inside` of the image, if the caller has it."""
    dtype = np.asarray(image).dtype
    if dtype.kind not in "biuf":  # complex, object, strings, dates
        return "pixels"  # the graph builder refuses it, naming the fix
    shape = np.shape(image)
    if channel_axis is not None:
        try:
            axis = operator.index(channel_axis) % max(len(shape), 1)
        except TypeError:
            return "pixels"  # the graph builder reports the bad channel_axis
        shape = tuple(s for a, s in enumerate(shape) if a != axis)
    if mask is not None:
        try:
            inside = np.asarray(mask, dtype=bool)
        except (TypeError, ValueError):
            return "pixels"  # the graph builder reports the bad mask
        if inside.shape != tuple(shape):
            return "pixels"
        if int(inside.sum()) < AUTO_REGIONS_MIN_PIXELS or _flat_inside(image, inside,
                                                                        channel_axis):
            return "pixels"
    elif int(np.prod(shape)) < AUTO_REGIONS_MIN_PIXELS:
        return "pixels"
    from ._contours import MIN_SIDE

    if len(shape) == 2 and noise_level(image, channel_axis) <= AUTO_CONTOURS_MAX_NOISE:
        # the contour cues need 9 pixels a side; superpixels cannot follow
        # anything in a thinner strip either, the pixel graph of a strip is cheap
        if min(shape) < MIN_SIDE:
            return "pixels"
        # a constant frame has no contour: its hierarchy is one region, which a
        # number of segments asked for could not split (the graph modes can)
        if constant is None:
            constant = _constant_inside(image, mask, channel_axis)
        if not constant:
            return "contours"
    return "regions"


def _warn_if_colour_read_as_slices(image, channel_axis):
    """Warn when an ``(M, N, 3)`` or ``(M, N, 4)`` image without ``channel_axis``
    is about to be segmented as a volume of 3 or 4 slices.

    scikit-image's segmentation functions take the last axis as colour by
    default; here ``channel_axis=None`` means grey, so an RGB photograph
    would come back as 3-D labels, one label volume over its colour planes.
    """
    if channel_axis is not None:
        return
    shape = np.shape(image)
    if len(shape) == 3 and shape[-1] in (3, 4) and min(shape[:2]) > shape[-1]:
        import warnings

        warnings.warn(
            f"image of shape {shape} with channel_axis=None is segmented as a volume of "
            f"{shape[-1]} slices (labels of shape {shape}); if its last axis holds colour "
            "channels (RGB), pass channel_axis=-1 (--channel-axis -1).",
            UserWarning, stacklevel=3,
        )


def _constant_inside(image, mask, channel_axis):
    """Whether every pixel inside ``mask`` (all, without one) has the same value
    in every channel; False for input the validators will refuse."""
    try:
        values = _channels_last(image, channel_axis)
        if mask is not None:
            inside = np.asarray(mask, dtype=bool)
            if inside.shape != values.shape[:-1] or not inside.any():
                return False
            values = values[inside]
        values = values.reshape(-1, values.shape[-1])
        if values.shape[0] == 0 or values.dtype.kind not in "biuf":
            return False
        return bool((values.min(axis=0) == values.max(axis=0)).all())
    except (TypeError, ValueError, np.exceptions.AxisError):
        return False


def _flat_inside(image, mask, channel_axis):
    """Whether the image varies inside ``mask`` by its pixel noise alone.

    Then the mask's own shape is all there is to segment (the seed example:
    touching discs of one grey level), and the pixel graph follows it where
    superpixels cannot; an image with structure inside the mask is segmented
    like an unmasked one. The test: averaged over windows of ``FLAT_WINDOW``
    pixels a side within the mask (normalized convolution, so that the pixels
    outside do not enter), the image varies inside the mask by at most
    ``AUTO_FLAT_FACTOR`` times the variance that the pixel noise
    (:func:`specseg._regions.pixel_noise`) keeps through that averaging,
    summed over channels. Averaging removes most of the noise and keeps the
    objects, however small a share of the mask they cover.
    """
    values = _channels_last(image, channel_axis).astype(np.float32)
    noise = pixel_noise(values)
    box = ndimage.find_objects(mask.astype(np.int8))[0]
    box = tuple(slice(max(0, b.start - FLAT_WINDOW), b.stop + FLAT_WINDOW) for b in box)
    inside = mask[box]
    weight = ndimage.uniform_filter(inside.astype(np.float32), FLAT_WINDOW)
    core = inside & (weight > 0.5)  # away from the mask's edge
    if not core.any():
        core = inside
    structure = 0.0
    for c in range(values.shape[-1]):
        mean = ndimage.uniform_filter(np.where(inside, values[box][..., c], 0), FLAT_WINDOW)
        structure += float((mean[core] / weight[core]).var())
    # a window's mean keeps 1 / (its pixels) of white noise's variance
    return structure <= AUTO_FLAT_FACTOR * noise**2 / FLAT_WINDOW**mask.ndim


def noise_level(image, channel_axis=None):
    """Robust standard deviation of the pixel noise, as a fraction of the value range.

    The median absolute value of the finest diagonal detail
    ``(x[i, j] - x[i+1, j] - x[i, j+1] + x[i+1, j+1]) / 2`` divided by 0.6745
    (Donoho's estimate from the finest wavelet band), averaged over channels,
    on a central crop of at most ``NOISE_SIDE`` pixels a side (as
    :func:`specseg._regions.pixel_noise`, which gives the norm over channels,
    unscaled); edges and texture barely move a median.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = np.zeros((64, 64))
    >>> image[:, 32:] = 1.0
    >>> round(noise_level(image + 0.1 * rng.standard_normal(image.shape)), 2)  # range 1.7
    0.06
    """
    image = _channels_last(image, channel_axis)
    if image.ndim == 3:  # a central crop keeps this cheap on any frame
        image = _noise_sample(image)
    image = image.astype(np.float32)
    span = float(image.max() - image.min())
    if image.ndim != 3 or span == 0 or min(image.shape[:2]) < 2:
        return 0.0
    return float(np.mean(_diagonal_detail_medians(image)) / 0.6745 / span)


def _channels_last(image, channel_axis):
    """``image`` as an array with its channels on the last axis (one if None)."""
    image = np.asarray(image)
    if channel_axis is None:
        return image[..., np.newaxis]
    return np.moveaxis(image, channel_axis, -1)


class _StageClock:
    """Times named stages and reports them to an optional progress callback."""

    def __init__(self, progress=None):
        self.progress = progress
        self.timings = {}

    def __call__(self, stage):
        return _Stage(self, stage)


class _Stage:
    def __init__(self, clock, name):
        self.clock, self.name = clock, name

    def __enter__(self):
        if self.clock.progress is not None:
            self.clock.progress(self.name, 0.0)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        elapsed = time.perf_counter() - self.start
        self.clock.timings[self.name] = self.clock.timings.get(self.name, 0.0) + elapsed
        if self.clock.progress is not None and exc[0] is None:
            self.clock.progress(self.name, 1.0)
        return False

"""How much memory a segmentation needs, predicted from the image's shape alone.

:func:`estimate_memory` models the arrays that :func:`specseg.segment` holds at
the peak of each stage, counted in bytes from the number of nodes ``n`` and
undirected edges ``E`` of the pixel graph (CSR matrices store ``int32``
indices and ``float64`` data, 12 bytes per stored entry):

- **graph**: the float64 copy of the image, the node index, the per-offset
  edge lists (``int64`` node pairs and ``float64`` differences and weights),
  their concatenation in both directions, its ``int32`` copy and the CSR
  affinity itself: about ``128 E`` bytes;
- **embedding** (solver "amg", the default past 20 000 nodes): the affinity, the
  normalized Laplacian and its shifted copy, the multigrid hierarchy (its
  float32 copies and prolongators included) and the LOBPCG blocks: about 9
  dense ``n x (k - 1)`` float64 blocks' worth at once (``X``, ``AX``, ``P``,
  ``AP``, the preconditioned residual ``T`` and ``A T``, the float32 residual and
  the V-cycle's float32 temporaries, and the holes they leave in the heap).
  "dense" needs two ``n x n`` matrices; "arpack" the sparse LU factor, whose
  fill grows like ``n`` in 2-D and ``n^1.5`` in 3-D;
- **assignment**: the embedding and a few ``n x k`` temporaries;
- **refinement**: the affinity and per-entry ``int64`` label gathers.

The peak is the largest stage, plus a fixed allowance for the modules the
stages import. The coefficients were fitted against the peak resident memory
of ``segment`` measured by ``benchmarks/memory.py`` (table in
``docs/memory-table.md``); the estimate is meant to err high: it is 0.99 to
1.35 times the measured peak there.

The guard in :func:`specseg.segment` compares the estimate with the memory the
operating system reports as available (``MemAvailable`` in ``/proc/meminfo``)
before anything large is allocated.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

from ._assign import ASSIGN_METHODS
from ._embedding import FINE_SOLVE_MAX_NODES, SOLVERS, _resolve_solver
from ._graph import _neighbour_offsets
from ._validation import check_n_segments, check_option

__all__ = ["available_memory", "check_memory", "estimate_memory"]

#: Bytes of one stored entry of a CSR matrix: float64 data and int32 index.
_ENTRY = 12
#: Dense float64 n x (k - 1) blocks' worth of memory at the peak of LOBPCG,
#: the holes of freed temporaries in the heap included (calibrated,
#: docs/memory-table.md: 7.4 to 7.9 were measured over the rest of the model).
_LOBPCG_BLOCKS = 9
#: Dense float64 n x k blocks alive when "amg" stops at the interpolated coarse
#: solution (graphs above FINE_SOLVE_MAX_NODES): the vectors and one product.
_COARSE_ONLY_BLOCKS = 2
#: Modules imported on first use by the stages (pyamg's aggregation; scikit-learn
#: for k-means) and BLAS buffers.
_IMPORTS = {"base": 8 * 2**20, "amg": 12 * 2**20, "kmeans": 72 * 2**20}


def estimate_memory(
    image,
    n_segments=8,
    *,
    mask=None,
    channel_axis=None,
    connectivity=1,
    solver="auto",
    assign="cluster_qr",
    refine=True,
    dtype=None,
    mask_fraction=None,
    mode="pixels",
    return_stages=False,
):
    """Predict the peak memory, in bytes, that :func:`segment` needs for a job.

    Nothing the size of the image is allocated: only the shape (and dtype) of
    ``image`` is read, so the estimate works for images that do not fit in
    memory, for lazy arrays, and for a bare shape tuple.

    Parameters
    ----------
    image : array_like or tuple of int
        The image that would be passed to :func:`segment`, or its shape
        (channel axis included when ``channel_axis`` is given). Anything with
        ``shape`` and ``dtype`` attributes is read without conversion.
    n_segments : int, optional
        Number of segments.
    mask : (M, N[, P]) array_like, optional
        The mask that would be passed to :func:`segment`; its nonzero fraction
        scales the graph.
    channel_axis : int, optional
        Axis of ``image`` holding channels, as for :func:`segment`.
    connectivity : int, optional
        Neighbourhood, as for :func:`segment`.
    solver, assign, refine
        As for :func:`segment`.
    dtype : numpy dtype, optional
        The image's dtype when ``image`` is a shape (default float64). Any
        other dtype is copied to float64 first, which counts.
    mask_fraction : float, optional
        Fraction of pixels inside the mask, for estimates from a shape alone
        (default 1, or the fraction of ``mask`` when it is given).
    mode : {"pixels", "regions", "contours"}, optional
        The mode :func:`segment` runs in (its ``mode="auto"`` resolves to one of
        these). The region mode holds a few per-pixel arrays (the superpixel
        labels, the image in its feature space) and a small graph. The
        contour mode works on at most ``CONTOURS_MAX_PIXELS`` pixels (a larger
        frame is averaged over blocks) and holds a few full-size arrays to
        bring the labels back.
    return_stages : bool, optional
        Also return the peak of each stage ("graph", "embedding",
        "assignment", "refinement"), in bytes, over the memory held before
        ``segment`` was called.

    Returns
    -------
    peak : int
        Predicted peak memory in bytes, over what the process holds already
        (the input image included).
    stages : dict of str to int
        Only if ``return_stages``.

    Notes
    -----
    The estimate is a model of the arrays each stage holds, calibrated against
    measured peak resident memory (``benchmarks/memory.py``,
    ``docs/memory-table.md``) to within 0.99 to 1.35 times, erring high. For a grey
    2-D image and ``k`` segments it is about ``420 + 72 (k - 1)`` bytes per pixel
    from a few hundred thousand to two million pixels (no block solve on the
    finest level above that). The fallback chain of the solvers
    (amg to arpack to dense) is not modelled: a fallback on a large graph
    may need more.

    Examples
    --------
    >>> peak = estimate_memory((1024, 1024), 8)
    >>> 0.8e9 < peak < 1.2e9
    True
    >>> peak, stages = estimate_memory((64, 64, 64), 4, return_stages=True)
    >>> max(stages, key=stages.get), sorted(stages)
    ('embedding', ['assignment', 'embedding', 'graph', 'refinement'])
    >>> estimate_memory(np.zeros((300, 400, 3), np.uint8), 4, channel_axis=-1) < 2**30
    True
    """
    shape, image_dtype = _shape_and_dtype(image, dtype)
    spatial, channels = _split_channels(shape, channel_axis)
    n_segments = check_n_segments(n_segments, None)
    check_option("solver", solver, SOLVERS)
    check_option("assignment method", assign, ASSIGN_METHODS)
    ndim = len(spatial)
    if isinstance(connectivity, bool) or connectivity not in range(1, ndim + 1):
        raise ValueError(
            f"connectivity must be an integer from 1 to {ndim} for a {ndim}-D image, "
            f"got {connectivity!r}."
        )
    fraction = _mask_fraction(mask, mask_fraction, spatial)
    check_option("mode", mode, ("pixels", "regions", "contours"))
    if mode == "contours":
        stages = _contour_stage_peaks(spatial, channels, image_dtype)
        peak = max(stages.values())
        return (peak, stages) if return_stages else peak
    if mode == "regions":
        stages = _region_stage_peaks(spatial, channels, image_dtype)
        peak = max(stages.values())
        return (peak, stages) if return_stages else peak
    stages = _stage_peaks(
        spatial, channels, image_dtype, n_segments, fraction=fraction,
        connectivity=connectivity, solver=solver, assign=assign, refine=refine,
    )
    peak = max(stages.values())
    if return_stages:
        return peak, stages
    return peak


#: Peak bytes per pixel of the contour hierarchy at its working resolution
#: (0.83 GB measured for 1000 x 1000 colour pixels; rounded up).
CONTOUR_BYTES_PER_PIXEL = 950


def _contour_stage_peaks(spatial, channels, dtype):
    """Peaks of the "contours" mode: the hierarchy at its working size, then the
    full-size float64 image, its features and the labels brought back."""
    from ._segment import CONTOURS_MAX_PIXELS, _contours_factor

    n_pixels = int(np.prod(spatial))
    factor = _contours_factor(spatial)
    # more than CONTOURS_MAX_PIXELS for a long strip, which keeps its short side
    work = min(n_pixels, max(CONTOURS_MAX_PIXELS, int(np.prod([-(-n // factor)
                                                                for n in spatial]))))
    copy = 0 if np.dtype(dtype) == np.float64 else 8 * channels * n_pixels
    full = copy + n_pixels * (8 * 3 + 8 * 3) if n_pixels > CONTOURS_MAX_PIXELS else copy
    return {"hierarchy": copy + CONTOUR_BYTES_PER_PIXEL * work, "boundaries": full}


def available_memory():
    """Bytes the operating system can give this process now, or None if unknown.

    ``MemAvailable`` from ``/proc/meminfo`` on Linux (free memory plus caches that
    can be dropped); elsewhere the free physical pages from ``os.sysconf``.
    """
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    value, unit = line.split()[1:3]
                    return int(value) * {"kB": 1024, "mB": 2**20}.get(unit, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or page_size <= 0:
        return None
    return pages * page_size


def check_memory(image, n_segments, *, max_memory=None, channel_axis=None, **options):
    """Refuse a job whose estimated peak memory exceeds what is available.

    ``max_memory`` (bytes) replaces the available memory reported by the
    system; when neither is known the check passes. ``options`` are those of
    :func:`estimate_memory`. ``n_segments="auto"`` is estimated for the
    ``AUTO_MAX_SEGMENTS + 1`` eigenvectors that :func:`segment` computes to choose
    k. An image whose shape :func:`segment` would refuse anyway passes, so that
    the validators report it with their own message.

    Raises
    ------
    MemoryError
        With the memory needed, the memory available and what to do instead.
    """
    if max_memory is not None:
        if isinstance(max_memory, bool) or not isinstance(max_memory, numbers.Real) or not (
            max_memory > 0
        ):
            raise ValueError(f"max_memory must be a positive number of bytes, got {max_memory!r}.")
        limit, source = float(max_memory), "max_memory allows only {}"
    else:
        limit, source = available_memory(), "only {} is available"
        if limit is None:
            return
    if isinstance(image, tuple | list):
        image = np.asarray(image)  # an image given as nested lists, never a shape here
    if isinstance(n_segments, str) and n_segments == "auto":
        from ._segment import AUTO_MAX_SEGMENTS

        # "auto" computes AUTO_MAX_SEGMENTS + 1 eigenvectors before it picks k
        k, asked = AUTO_MAX_SEGMENTS + 1, 'with n_segments="auto"'
    else:
        k, asked = n_segments, f"into {n_segments} segments"
    try:
        need, stages = estimate_memory(
            image, k, channel_axis=channel_axis, return_stages=True, **options
        )
    except (TypeError, ValueError):
        return  # a bad argument: segment's validators name it
    if need <= limit:
        return
    stage = max(stages, key=stages.get)
    shape = _shape_and_dtype(image, None)[0]
    n_spatial = len(shape) - (channel_axis is not None)
    # the estimate grows with the pixel count: scale each axis by (limit / need)^(1/ndim)
    factor = math.floor(100 * 0.9 * (limit / need) ** (1 / max(n_spatial, 1))) / 100
    channels = "" if channel_axis is None else f", channel_axis={channel_axis}"
    rescale = f"skimage.transform.rescale(image, {max(factor, 0.01):g}{channels})"
    raise MemoryError(
        f"segmenting an image of shape {tuple(shape)} {asked} needs about "
        f"{_format_bytes(need)} of memory (peak in the {stage} stage) but "
        f"{source.format(_format_bytes(limit))}. Downscale the image (e.g. {rescale}), pass a "
        "mask of the pixels to segment, or use a region mode that segments superpixels "
        "instead of pixels. Pass check_memory=False to try anyway."
    )


def _format_bytes(n):
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def _shape_and_dtype(image, dtype):
    """``(shape, dtype)`` of an image or of a shape tuple, without converting an array."""
    if isinstance(image, tuple | list) and all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in image
    ) and image:
        shape = tuple(int(s) for s in image)
        if any(s < 0 for s in shape):
            raise ValueError(f"shape must be non-negative, got {shape}.")
        return shape, np.dtype(np.float64 if dtype is None else dtype)
    if not (hasattr(image, "shape") and hasattr(image, "dtype")):
        image = np.asarray(image)  # a nested list: small enough to convert
    return tuple(int(s) for s in image.shape), np.dtype(image.dtype if dtype is None else dtype)


def _split_channels(shape, channel_axis):
    """Spatial shape and number of channels, refusing what ``check_image`` refuses."""
    if channel_axis is None:
        spatial, channels = shape, 1
    else:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
            raise TypeError(f"channel_axis must be an int or None, got {channel_axis!r}.")
        if not -len(shape) <= channel_axis < len(shape):
            raise ValueError(
                f"channel_axis={channel_axis} is out of range for an image with "
                f"{len(shape)} dimensions."
            )
        axis = channel_axis % len(shape)
        spatial, channels = shape[:axis] + shape[axis + 1 :], shape[axis]
    if len(spatial) not in (2, 3):
        raise ValueError(f"image must be 2-D or 3-D, got spatial shape {spatial}.")
    if math.prod(spatial) * channels == 0:
        raise ValueError(f"image is empty (shape {spatial}).")
    return tuple(spatial), int(channels)


def _mask_fraction(mask, mask_fraction, spatial):
    if mask_fraction is not None:
        if isinstance(mask_fraction, bool) or not isinstance(mask_fraction, numbers.Real) or not (
            0 < mask_fraction <= 1
        ):
            raise ValueError(f"mask_fraction must be in (0, 1], got {mask_fraction!r}.")
        return float(mask_fraction)
    if mask is None:
        return 1.0
    if not hasattr(mask, "shape"):
        mask = np.asarray(mask)
    if tuple(mask.shape) != tuple(spatial):
        raise ValueError(f"mask has shape {mask.shape}, the image's spatial shape is {spatial}.")
    inside = int(np.count_nonzero(mask))
    if inside == 0:
        raise ValueError("mask is empty.")
    return inside / math.prod(spatial)


def _n_edges(spatial, connectivity):
    """Undirected edges of the full pixel graph: one per neighbouring pair."""
    total = 0
    for offset in _neighbour_offsets(len(spatial), connectivity):
        total += math.prod(max(s - abs(o), 0) for s, o in zip(spatial, offset, strict=True))
    return total


def _stage_peaks(spatial, channels, dtype, k, *, fraction, connectivity, solver, assign, refine):
    """Peak bytes of each stage over the memory held before ``segment`` (model)."""
    n_pixels = math.prod(spatial)
    n = max(1, round(n_pixels * fraction))
    k = min(k, n)
    edges = _n_edges(spatial, connectivity) * fraction  # mask: edges inside it, about
    nnz_affinity = 2 * edges
    nnz_laplacian = nnz_affinity + n
    affinity = _ENTRY * nnz_affinity + 4 * n
    laplacian = _ENTRY * nnz_laplacian + 4 * n
    m = k - 1

    # graph: float64 image copy (unless float64 already), node index, then the
    # edge lists alive together inside _symmetric_csr (see the module notes)
    image_copy = 0 if dtype == np.float64 else 8 * n_pixels * channels
    graph = image_copy + 8 * n_pixels + 128 * edges + 4 * n

    # embedding: connected components, the normalized Laplacian and the solver
    name = _resolve_solver(solver, n, k)  # the solver segment runs first
    solve = laplacian + 24 * n  # with sqrt(degree), the trivial vector and the node groups
    if name == "dense":
        solve += 2 * 8 * n * n + 8 * n * k  # the dense matrix and LAPACK's copy
    elif name == "arpack":
        per_row = nnz_laplacian / n
        fill = 1000 * n * per_row / 5 if len(spatial) == 2 else 84 * n**1.5 * per_row / 7
        solve += laplacian + fill + 2 * 8 * n * max(2 * k + 1, 20)  # CSC copy, LU, Lanczos
    elif name == "amg":
        # L_sym is held as I - S (one scaled copy of W, counted in `solve` above)
        hierarchy = 8 * nnz_laplacian + 4 * n + n * (75 * len(spatial) + 11 * nnz_laplacian / n)
        setup = 2 * _ENTRY * nnz_laplacian  # strength of connection, |A|
        if n > FINE_SOLVE_MAX_NODES:  # no block iterations on the finest level
            blocks = _COARSE_ONLY_BLOCKS * 8 * n * k
        else:
            blocks = _LOBPCG_BLOCKS * 8 * n * m
        solve += hierarchy + max(setup, blocks)
    else:
        solve += _LOBPCG_BLOCKS * 8 * n * m
    normalize = affinity + 32 * nnz_affinity  # the scaled copy and its index gathers
    embedding = affinity + 8 * n + max(normalize, solve)

    # assignment: the embedding, row-normalized copy, QR and Lloyd temporaries
    assignment = affinity + 2 * 8 * n * k + 6 * 8 * n * k
    # refinement: label gathers per stored entry (int64) and per-node arrays
    refinement = affinity + 8 * n * k + 40 * nnz_affinity + 64 * n if refine and k > 1 else 0
    # labels back in image space and canonical numbering
    labels = affinity + 48 * n_pixels

    fixed = _IMPORTS["base"] + (_IMPORTS["kmeans"] if assign == "kmeans" else 0)
    if name in ("amg", "lobpcg"):
        fixed += _IMPORTS["amg"]
    stages = {
        "graph": graph,
        "embedding": embedding,
        "assignment": assignment,
        "refinement": max(refinement, labels),
    }
    return {stage: int(value + fixed) for stage, value in stages.items()}


#: Region mode, bytes per pixel: superpixel labels, distances and the image in
#: its feature space (float64 per channel), measured on 1024² and 2048² frames
#: and a 128³ volume (80-383 MB over the input), with a margin.
_REGION_BYTES_PER_PIXEL = 72
_REGION_BYTES_PER_CHANNEL_PIXEL = 40


def _region_stage_peaks(spatial, channels, dtype):
    """Peak bytes of each stage in region mode (model; the region graph is small)."""
    n_pixels = math.prod(spatial)
    image_copy = 0 if dtype == np.float64 else 8 * n_pixels * channels
    graph = image_copy + n_pixels * (
        _REGION_BYTES_PER_PIXEL + _REGION_BYTES_PER_CHANNEL_PIXEL * channels
    )
    small = 16 * n_pixels  # labels back in image space, boundary snapping
    # no multigrid import: the default region graph (at most DEFAULT_REGIONS
    # nodes) is solved densely
    fixed = _IMPORTS["base"]
    stages = {"graph": graph, "embedding": small, "assignment": small, "refinement": graph}
    return {stage: int(value + fixed) for stage, value in stages.items()}


"""Blockwise segmentation of volumes larger than memory, on Dask.

The region mode of :func:`~specseg.segment`, cut into blocks the way
connectomics pipelines (and dask-image's ``ndmeasure.label``) do it:

1. **Features** ``(image - low) / span`` with ``low, span`` from the 1st and
   99th percentiles of a strided sample of the whole volume (so every block
   uses the same scale), smoothed by a Gaussian with a halo (``map_overlap``)
   so that each block sees the smoothing of the whole volume.
2. **Supervoxels** per block (SLIC or watershed), about ``n_regions`` in all,
   numbered ``0 .. n_b - 1`` inside block ``b``; kept on the workers
   (``persist``). A block face is always a supervoxel boundary. SLIC takes its
   compactness relative to the range of the whole volume (a pass of its own,
   :func:`_input_range`), as on the whole volume in memory.
3. **Region statistics** per block: pixel counts, feature sums and sums of
   squares, the adjacent pairs inside the block, and the pairs across the
   block's upper faces (each face belongs to the block holding its lower
   voxel, so every face is counted once). Only these sums travel to the client,
   where block offsets make the ids global and :class:`RegionStatistics` turn
   into one region graph (:func:`region_affinity`), the same graph the
   in-memory region mode builds.
4. **Partition** of that graph on the client by the engine of
   :func:`~specseg.spectral_clustering`, replaced, as in memory, by the
   partition of affine region models where the volume is shaded
   (:func:`robust_partition`; their sums are taken block by block).
5. **Relabelling** block by block (a table lookup), then the pixel-accurate
   boundary pass of the region mode (:func:`snap_boundaries`, gated by the
   pixel noise) with a halo wide enough that every block gets the labels the
   whole volume would.

Segments that straddle block faces are one segment because the partition is
global: the faces between blocks are edges of the region graph like any other.
"""

from __future__ import annotations

import math
import numbers
import os
import time

import numpy as np
from scipy import ndimage
from scipy.sparse import csgraph

from ._allocator import job_memory
from ._assign import ASSIGN_METHODS
from ._clustering import _cluster
from ._contrast import (
    AffineMoments,
    affine_partition,
    drop_minorities,
    impure_regions,
    shading_contrast,
)
from ._embedding import SOLVERS, _touched_bytes
from ._regions import (
    DEFAULT_REGIONS,
    SUPERPIXELS,
    RegionStatistics,
    contrast_floor,
    default_n_regions,
    pixel_noise,
    region_affinity,
    snap_boundaries,
    superpixel_input,
    superpixels,
    value_range,
)
from ._validation import (
    check_n_segments,
    check_option,
    check_positive_float,
    check_random_state,
    check_spacing,
)

__all__ = ["estimate_memory", "open_array", "segment"]

#: Default block side (voxels); 128^3 float32 is 8 MB, a SLIC task on it about 0.3 GB.
DEFAULT_CHUNK = {2: 1024, 3: 128}
#: Smallest block side accepted: the halos of the smoothing and of the boundary
#: pass must fit inside one neighbouring block.
MIN_CHUNK = 16
#: Voxels per supervoxel by default on large inputs (small ones use the
#: in-memory default, :func:`default_n_regions`, so the two paths agree).
REGION_VOXELS = {2: 256, 3: 4096}
#: Gaussian smoothing (voxels) of the features before the supervoxels, as in SLIC.
SMOOTH_SIGMA = 1.0
#: Halo of that smoothing: scipy's Gaussian reaches 4 sigma.
SMOOTH_HALO = 4
#: The partition uses the dense eigensolver up to this many nodes, multigrid above.
DENSE_MAX_NODES = 1500
#: The percentiles that scale the features are taken from about this many samples.
SCALE_SAMPLES = 2_000_000
#: The pixel noise that gates the boundary pass is estimated on a central crop
#: of at most this many voxels a side (a few blocks at most).
NOISE_CROP = {2: 1024, 3: 128}
#: SLIC's small pieces are joined by value, as in memory (:func:`join_fragments`),
#: where the pixel noise (that estimate, relative to the features' 1-99 % range)
#: is at most this; in noisier volumes as scikit-image joins them. Measured with
#: ``benchmarks/blocks.py`` (96³ balls in blocks of 48, seeds 0-7 or 0-11) and
#: ``benchmarks/edges.py``: clean cubes split at a third of an axis (noise
#: 0.04) had the wrong k with "auto" in 27 of 27 scikit-image's way and in none
#: by value; balls at noise 0.1 and 0.15 (0.08-0.15) scored the same or higher
#: by value; at 0.2 and 0.3 (0.13-0.20) three runs of 24 fell (0.98 -> 0.87,
#: 0.93 -> 0.51, 0.98 -> 0.92): two supervoxels straddling a ball's edge, one on
#: each side of a block face, linked to each other and to nothing else.
JOIN_MAX_NOISE = 0.1


def _dask():
    """Import dask.array, or say which extra installs it."""
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - the test extra installs dask
        raise ImportError(
            "specseg.distributed needs dask; install it with pip install 'specseg[dask]'."
        ) from exc
    return dask, da


def open_array(source):
    """Open an image for blockwise work: a dask array, zarr array, ndarray or zarr path.

    A path names a zarr store (a directory, ``.zarr``); an OME-Zarr image opens
    at its first (full-resolution) multiscale level. Nothing is read but
    metadata.

    Returns
    -------
    array : dask.array.Array

    Examples
    --------
    >>> open_array(np.zeros((32, 32))).chunksize
    (32, 32)
    """
    _, da = _dask()
    if isinstance(source, da.Array):
        return source
    if isinstance(source, (str, os.PathLike)):
        return da.from_zarr(_open_zarr_array(os.fspath(source)))
    if _is_zarr_array(source):
        return da.from_zarr(source)
    if isinstance(source, np.ndarray):
        return da.from_array(source, chunks=source.shape)
    raise TypeError(
        f"expected a dask array, a zarr array, a numpy array or the path of a zarr store, "
        f"got {type(source).__name__}; wrap other arrays with dask.array.from_array."
    )


def _is_zarr_array(obj):
    try:
        import zarr
    except ImportError:
        return False
    return isinstance(obj, zarr.Array)


def _open_zarr_array(path):
    """The zarr array at ``path``, or the first multiscale level of an OME-Zarr group."""
    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - the test extra installs zarr
        raise ImportError(
            "reading zarr stores needs zarr; install it with pip install 'specseg[dask]'."
        ) from exc
    if not os.path.exists(path):
        raise FileNotFoundError(f"no zarr store at {path!r}; check the path.")
    try:
        node = zarr.open(path, mode="r")
    except Exception as exc:
        raise ValueError(f"{path!r} is not a readable zarr store: {exc}") from exc
    if isinstance(node, zarr.Array):
        return node
    level = ome_first_level(dict(node.attrs))
    if level is None:
        names = sorted(name for name, _ in node.arrays())
        hint = f" It holds the arrays {names}; pass one as PATH/NAME." if names else ""
        raise ValueError(
            f"{path!r} is a zarr group, not an array, and has no OME-Zarr multiscales.{hint}"
        )
    return node[level]


def ome_first_level(attrs):
    """Path of the first (full-resolution) dataset of OME-Zarr ``multiscales``, or None.

    Reads OME-NGFF 0.4 (``attrs["multiscales"]``) and 0.5 (``attrs["ome"]["multiscales"]``).

    Examples
    --------
    >>> ome_first_level({"multiscales": [{"datasets": [{"path": "0"}, {"path": "1"}]}]})
    '0'
    >>> ome_first_level({}) is None
    True
    """
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    try:
        return str(multiscales[0]["datasets"][0]["path"])
    except (TypeError, KeyError, IndexError):
        return None


def _check_volume(array):
    if array.ndim not in (2, 3):
        raise ValueError(
            f"the distributed path segments grey 2-D or 3-D images; got shape {array.shape}. "
            "Select one channel (array[..., c]) for a multichannel image."
        )
    if np.dtype(array.dtype).kind not in "biuf":
        raise TypeError(
            f"image has dtype {array.dtype}, which cannot be segmented; pass a real-valued array."
        )
    if 0 in array.shape:
        raise ValueError(f"image is empty (shape {array.shape}); pass a non-empty image.")


def block_sizes(shape, chunks):
    """Validated block sizes per axis (a tuple of tuples that tiles ``shape``).

    ``chunks`` is an int (every axis), a tuple of ints (one per axis) or a
    tuple of tuples (explicit sizes per axis, as dask writes them). With ints,
    a trailing block smaller than ``MIN_CHUNK`` is folded into the one before.

    Examples
    --------
    >>> block_sizes((100, 70), 32)
    ((32, 32, 36), (32, 38))
    >>> block_sizes((40, 40), ((20, 20), (40,)))
    ((20, 20), (40,))
    """
    ndim = len(shape)
    if isinstance(chunks, numbers.Integral) and not isinstance(chunks, bool):
        chunks = (int(chunks),) * ndim
    if not isinstance(chunks, (tuple, list)) or len(chunks) != ndim:
        raise ValueError(
            f"chunks must be an int or one entry per axis of the {ndim}-D image {tuple(shape)}, "
            f"got {chunks!r}."
        )
    sizes = []
    for axis, (n, c) in enumerate(zip(shape, chunks, strict=True)):
        if isinstance(c, (tuple, list)):
            c = tuple(int(v) for v in c)
            if sum(c) != n or min(c) < 1:
                raise ValueError(
                    f"chunks {c} along axis {axis} do not tile its length {n}: the sizes must be "
                    f"positive and add up to {n}."
                )
        elif isinstance(c, numbers.Integral) and not isinstance(c, bool) and c >= 1:
            c = int(c)
            count, rest = divmod(n, c)
            c = (c,) * count + ((rest,) if rest else ())
            if len(c) > 1 and c[-1] < MIN_CHUNK:
                c = c[:-2] + (c[-2] + c[-1],)
            c = c or (n,)
        else:
            raise ValueError(f"chunks along axis {axis} must be a positive integer, got {c!r}.")
        if min(c) < min(MIN_CHUNK, n):
            raise ValueError(
                f"a block of {min(c)} voxels along axis {axis} is too thin; blocks must be at "
                f"least {MIN_CHUNK} voxels (or the whole axis). Pass larger chunks."
            )
        sizes.append(c)
    return tuple(sizes)


def _fold_thin(sizes):
    """Block sizes along one axis with each block thinner than ``MIN_CHUNK`` joined
    to the one before it (the first to the one after): the trailing block of
    chunks that do not divide the axis, as :func:`block_sizes` folds it for
    ``chunks=`` given as an int.

    Examples
    --------
    >>> _fold_thin((20, 20, 8))
    (20, 28)
    >>> _fold_thin((4, 30, 30))
    (34, 30)
    """
    folded = []
    for n in sizes:
        if folded and (n < MIN_CHUNK or folded[-1] < MIN_CHUNK):
            folded[-1] += n
        else:
            folded.append(n)
    return tuple(folded)


def _prepare(array, chunks, mask):
    """The image and mask as dask arrays on the same validated blocks."""
    _, da = _dask()
    array = open_array(array)
    _check_volume(array)
    if chunks is None:
        default = DEFAULT_CHUNK[array.ndim]
        # keep the store's chunking when its blocks are a sensible size
        chunks = tuple(_fold_thin(c) for c in array.chunks) if min(
            array.chunksize) >= MIN_CHUNK and max(array.chunksize) <= 2 * default else default
    sizes = block_sizes(array.shape, chunks)
    array = array.rechunk(sizes)
    if mask is not None:
        try:
            mask = open_array(mask)
        except TypeError as exc:
            raise TypeError(f"mask: {exc}") from None
        if mask.shape != array.shape:
            raise ValueError(
                f"mask has shape {mask.shape} but the image has shape {array.shape}; "
                "pass a mask of the image's shape."
            )
        mask = (mask != 0).rechunk(sizes)
    return array, mask


def segment(
    array,
    n_segments=8,
    *,
    chunks=None,
    mask=None,
    n_regions=None,
    superpixel_method="slic",
    compactness=None,
    beta=4.0,
    spacing=None,
    solver="auto",
    assign="cluster_qr",
    refine=True,
    random_state=None,
    supervoxel_store=None,
    return_info=False,
):
    """Segment a volume larger than memory, block by block, on Dask.

    Runs on whatever Dask scheduler is active (a ``dask.distributed.Client``,
    a ``LocalCluster`` or the local threads). Supervoxels, their statistics
    and the relabelling are computed per block; only the region graph (one
    node per supervoxel) is gathered and partitioned on the client.

    Parameters
    ----------
    array : dask array, zarr array, ndarray, str or path
        A grey 2-D or 3-D image, or the path of a zarr store holding one (an
        OME-Zarr image is read at its first multiscale level).
    n_segments : int or "auto", optional
        Number of segments, or "auto" for the largest eigengap (as :func:`segment`).
    chunks : int, tuple, optional
        Block size (an int, one int per axis, or explicit sizes per axis).
        Default: the array's own chunks when they are between ``MIN_CHUNK``
        and twice ``DEFAULT_CHUNK``, else ``DEFAULT_CHUNK`` (128 for a volume).
    mask : array_like, optional
        Same kinds as ``array``, same shape; nonzero voxels are segmented.
    n_regions : int, optional
        Approximate number of supervoxels in all. Default: as the in-memory
        region mode for small images, one per ``REGION_VOXELS`` voxels beyond.
    superpixel_method : {"slic", "watershed"}, optional
        Supervoxels per block (see :func:`region_graph`).
    compactness, beta : float, optional
        As for :func:`region_graph`.
    spacing : float or sequence of float, optional
        Voxel size, one per axis or one for all (e.g. ``(5, 1, 1)`` for slices
        five times as far apart as the pixels within a slice), as for
        :func:`~specseg.segment`: SLIC's supervoxels are compact, and the
        features smoothed by ``SMOOTH_SIGMA``, in units of the smallest
        spacing (only the ratios matter); SLIC only. Default: isotropic voxels.
    solver, assign, refine
        As for :func:`segment`; ``refine`` also snaps boundaries to the pixels.
        ``solver="auto"`` is "dense" up to ``DENSE_MAX_NODES`` nodes and "amg" above.
    random_state : None, int or numpy.random.Generator, optional
        Seeds the partition. The same value and chunking give the same labels.
    supervoxel_store : str or path, optional
        Write the supervoxels to this new zarr store (on storage every worker
        reaches) instead of holding them in the workers' memory, for volumes
        larger than the cluster's memory. It must not exist yet; the labels
        read it until they are computed, then it may be deleted.
    return_info : bool, optional
        Also return a dict: ``n_segments``, ``n_regions`` (nodes of the region
        graph), ``n_edges``, ``n_blocks``, ``chunks``, ``eigenvalues``,
        ``solver``, ``scale`` (the feature ``low, span``), ``timings`` (seconds
        of the stages run so far: "supervoxels" (the scale, features and
        supervoxels), "statistics", "partition" and "merging" (the affine
        region models of a shaded volume); the relabelling and the
        boundary pass run when ``labels`` is computed).

    Returns
    -------
    labels : dask.array.Array of int32
        Lazy labels, -1 outside the mask and ``0 .. n_segments - 1`` inside,
        numbered in raster order of each segment's first voxel before the
        boundary pass. Compute it, or store it (``labels.to_zarr(...)``)
        chunk by chunk. The supervoxels it is computed from are held on the
        workers (4 bytes per voxel) until ``labels`` is dropped, or read from
        ``supervoxel_store``.
    info : dict
        Only if ``return_info``.

    Examples
    --------
    >>> import dask.array as da
    >>> from specseg.datasets import balls
    >>> volume, truth = balls(48, n_balls=2, noise=0.05, random_state=0)
    >>> labels = segment(da.from_array(volume, chunks=24), 3, random_state=0)
    >>> labels.chunksize, sorted(np.unique(labels.compute()).tolist())
    ((24, 24, 24), [0, 1, 2])
    """
    dask, da = _dask()
    n_segments = check_n_segments(n_segments, None, allow_auto=True)
    check_option("superpixel method", superpixel_method, SUPERPIXELS)
    check_option("solver", solver, SOLVERS)
    check_option("assignment method", assign, ASSIGN_METHODS)
    beta = check_positive_float("beta", beta, allow_zero=True)
    if compactness is not None:
        compactness = check_positive_float("compactness", compactness)
    if n_regions is not None and (
        isinstance(n_regions, bool) or not isinstance(n_regions, numbers.Integral)
        or n_regions < 1
    ):
        raise ValueError(f"n_regions must be a positive integer, got {n_regions!r}.")
    rng = check_random_state(random_state)
    if supervoxel_store is not None and os.path.exists(supervoxel_store):
        raise FileExistsError(
            f"supervoxel_store {os.fspath(supervoxel_store)!r} already exists; pass a new path "
            "(nothing is overwritten).")
    image, mask = _prepare(array, chunks, mask)
    sigma = SMOOTH_SIGMA
    if spacing is not None and superpixel_method != "slic":
        raise ValueError(
            f"spacing shapes SLIC's supervoxels; superpixel_method={superpixel_method!r} "
            "does not use it. Drop spacing=, or use superpixel_method='slic'.")
    if spacing is not None:  # in units of the smallest, as in memory (region_graph)
        spacing = np.asarray(check_spacing(spacing, image.ndim), dtype=np.float64)
        spacing = spacing / spacing.min()
        sigma = tuple(SMOOTH_SIGMA / spacing)  # as SLIC smooths in memory: within the halo
    clock = time.perf_counter()
    timings = {}

    n_inside, image = _leave_out_no_data(image, mask)
    if n_inside == 0:
        raise ValueError("mask is empty (no nonzero voxel), so there is nothing to segment.")
    if n_regions is None:
        n_regions = _default_regions(n_inside, image.ndim)
    voxels_per_region = n_inside / n_regions
    low, span = _feature_scale(image)

    # float32 halves what every pass reads and holds; the sums are taken in float64
    features = (image.astype(np.float32) - np.float32(low)) / np.float32(span)
    smooth = features.map_overlap(ndimage.gaussian_filter, depth=_halo(features, SMOOTH_HALO),
                                  boundary="none", sigma=sigma, mode="reflect",
                                  dtype=np.float32)
    blocks = (smooth,) if mask is None else (smooth, mask)
    feature_range = None
    if superpixel_method == "slic":
        feature_range = _input_range(smooth, features, mask, voxels_per_region)
    noise = _volume_noise(features)
    supervoxels = da.map_blocks(
        _block_supervoxels, *blocks, dtype=np.int32,
        voxels_per_region=voxels_per_region, method=superpixel_method, compactness=compactness,
        spacing=spacing, feature_range=feature_range, join_by_value=noise <= JOIN_MAX_NOISE,
    )
    if supervoxel_store is None:
        supervoxels = supervoxels.persist()
        _wait(supervoxels)
    else:
        supervoxels.to_zarr(os.fspath(supervoxel_store))
        supervoxels = da.from_zarr(os.fspath(supervoxel_store))
    clock = _lap(timings, "supervoxels", clock)

    tasks = _statistics_tasks(features, supervoxels)
    parts = dask.compute(*tasks)
    stats, first, offsets = _global_statistics(parts, supervoxels.numblocks, image.shape)
    clock = _lap(timings, "statistics", clock)
    if stats.pairs.shape[0] == 0 and stats.n_regions > 1:
        raise ValueError("the supervoxels have no adjacent pairs; pass a larger n_regions.")
    if n_segments != "auto" and n_segments > stats.n_regions:
        raise ValueError(
            f"n_segments={n_segments} is more than the {stats.n_regions} supervoxels this "
            f"volume was divided into; ask for at most {stats.n_regions}, or pass a larger "
            f"n_regions= (at most the {n_inside} voxels to segment)."
        )
    n_segments = check_n_segments(n_segments, stats.n_regions, allow_auto=True)

    floor = contrast_floor(image.ndim, n_inside / max(stats.n_regions, 1))
    affinity, _ = region_affinity(stats, beta=beta, floor=floor)
    if n_segments == "auto" and _constant(stats):
        # no boundary to cut: one segment per connected part, as in memory
        n_segments = int(csgraph.connected_components(affinity, directed=False)[0])
    solver = _partition_solver(solver, stats.n_regions)
    with job_memory(_touched_bytes(affinity, 17 if n_segments == "auto" else n_segments, solver)):
        node_labels, result = _cluster(affinity, n_segments, solver=solver, assign=assign,
                                       refine=refine, tol=None, rng=rng)
    n_segments = result.eigenvalues.size
    clock = _lap(timings, "partition", clock)
    if refine and n_segments > 1:
        node_labels = _robust_partition(features, supervoxels, stats, offsets, node_labels,
                                        n_segments, noise=noise)
        _lap(timings, "merging", clock)
    table = _canonical_table(node_labels, first, n_segments)

    labels = _relabelled(supervoxels, table, offsets)
    if refine and n_segments > 1:
        width = int(math.ceil(voxels_per_region ** (1.0 / image.ndim) / 2))
        split = [min(c) for c in image.chunks if len(c) > 1]  # axes cut into blocks
        width = max(1, min([width] + [n - 3 for n in split]))
        labels = da.map_overlap(_snap_block, labels, features, depth=_halo(labels, width + 3),
                                boundary="none", dtype=np.int32, width=width,
                                noise=noise, align_arrays=False)
    if not return_info:
        return labels
    info = {
        "n_segments": n_segments,
        "n_regions": stats.n_regions,
        "n_edges": int(stats.pairs.shape[0]),
        "n_blocks": int(np.prod(supervoxels.numblocks)),
        "chunks": image.chunks,
        "eigenvalues": result.eigenvalues.tolist(),
        "solver": result.solver,
        "scale": (low, span),
        "timings": timings,
    }
    return labels, info


def _halo(array, depth):
    """``depth`` per axis for ``map_overlap``, 0 along the axes of one block.

    A block alone along an axis has no neighbour to borrow a halo from (with
    ``boundary="none"`` the halo adds nothing there), and dask refuses a depth
    larger than the axis, so volumes thinner than the halo (2 x 2 x 2, or
    1 x 50 x 50) need none along it.
    """
    return {axis: (0 if len(c) == 1 else depth) for axis, c in enumerate(array.chunks)}


def _lap(timings, stage, start):
    """Record the seconds since ``start`` under ``stage``; return the time now."""
    now = time.perf_counter()
    timings[stage] = now - start
    return now


def _wait(collection):
    """Wait for a persisted collection when a distributed client runs it (so the
    stage timings are the stages'); the local schedulers persist eagerly."""
    try:
        from distributed import default_client, wait
        default_client()
    except (ImportError, ValueError):
        return
    wait(collection)


def _partition_solver(solver, n_nodes):
    """``"auto"``: dense up to ``DENSE_MAX_NODES`` nodes, multigrid above.

    Not shift-invert ARPACK, which ``"auto"`` picks in memory for mid-sized
    graphs: on region graphs of large supervoxels many weights sit at the
    floor (the smallest normal float), and it stalled there for minutes on a
    3,841-node graph that the multigrid solver partitions in 0.3 s (the same
    segments as the dense solver).
    """
    if solver != "auto":
        return solver
    return "dense" if n_nodes <= DENSE_MAX_NODES else "amg"


def _default_regions(n_inside, ndim):
    """The in-memory default for small inputs, one per ``REGION_VOXELS`` beyond."""
    small = default_n_regions(n_inside, ndim)
    if n_inside <= DEFAULT_REGIONS[ndim] * REGION_VOXELS[ndim]:
        return small
    return int(n_inside // REGION_VOXELS[ndim])


def _leave_out_no_data(image, mask):
    """``(n_inside, image)``: the voxels inside the mask, and the image whose NaN or
    inf voxels (no data), which must lie outside the mask, hold the median of a
    strided sample of its finite voxels, as in memory (``fill_no_data``).

    An integer image needs no pass over its voxels beyond the mask's count; a
    float one is checked in the same pass.
    """
    dask, da = _dask()
    if np.dtype(image.dtype).kind != "f":
        return (image.size if mask is None else int(mask.sum().compute())), image
    bad = ~da.isfinite(image)
    if mask is None:
        n_inside, n_bad, n_bad_inside = image.size, int(bad.sum().compute()), 0
        if n_bad:
            raise ValueError(
                f"image has {n_bad} of {image.size} voxels that are NaN or inf (no data?); "
                "leave them out with mask=da.isfinite(image) (they get label -1), or "
                "replace them (e.g. da.nan_to_num)."
            )
    else:
        n_inside, n_bad, n_bad_inside = (int(n) for n in dask.compute(
            mask.sum(), bad.sum(), (bad & mask).sum()))
    if n_bad_inside:
        raise ValueError(
            f"image has {n_bad_inside} voxels inside the mask that are NaN or inf (no "
            "data?); leave them out of the mask (mask=mask & da.isfinite(image)): they "
            "get label -1; or replace them (e.g. da.nan_to_num)."
        )
    if n_bad == 0:
        return n_inside, image
    step = max(1, int(math.ceil((image.size / SCALE_SAMPLES) ** (1.0 / image.ndim))))
    sample = np.asarray(image[(slice(None, None, step),) * image.ndim].compute()).ravel()
    sample = sample[np.isfinite(sample)]
    fill = np.median(sample) if sample.size else 0.0
    return n_inside, da.where(bad, image.dtype.type(fill), image)


def _feature_scale(image):
    """``(low, span)`` of :func:`image_features` from a strided sample of the image."""
    step = max(1, int(math.ceil((image.size / SCALE_SAMPLES) ** (1.0 / image.ndim))))
    sample = np.asarray(image[(slice(None, None, step),) * image.ndim].compute(),
                        dtype=np.float64).ravel()
    low, high = np.percentile(sample, [1, 99])
    span = high - low
    if not span > 0:
        span = float(sample.max() - sample.min())
    if not span > 0:
        span = 1.0
    return float(low), float(span)


def _block_supervoxels(smooth, mask=None, *, voxels_per_region, method, compactness,
                       spacing=None, feature_range=None, join_by_value=True):
    """Supervoxels ``0 .. n_b - 1`` of one block (-1 outside the mask), as int32
    (``join_by_value``: see ``JOIN_MAX_NOISE``)."""
    n_regions = _block_regions(smooth, mask, voxels_per_region)
    if n_regions == 0:
        return np.full(smooth.shape, -1, dtype=np.int32)
    labels = superpixels(smooth[..., None], n_regions=n_regions, method=method,
                         compactness=compactness, mask=mask, spacing=spacing, sigma=0.0,
                         feature_range=feature_range, join_by_value=join_by_value)
    if mask is not None:
        # SLIC places no centre in a mask of a few voxels and leaves them out;
        # each connected piece of what it left out becomes a supervoxel
        left_out, n_left = ndimage.label(mask & (labels < 0))
        if n_left:
            labels = np.where(left_out > 0, left_out + labels.max(), labels)
    return labels.astype(np.int32)


def _block_regions(smooth, mask, voxels_per_region):
    """Supervoxels to make in one block (0 where it lies outside the mask)."""
    inside = smooth.size if mask is None else int(np.count_nonzero(mask))
    return 0 if inside == 0 else max(1, int(round(inside / voxels_per_region)))


def _block_input_range(smooth, features, mask=None, *, voxels_per_region):
    """``[[low, high]]`` of the values the in-memory region mode's SLIC would
    rescale, in one block: the features themselves, or on a coarse grid the
    smoothed features averaged over its cells (see :func:`superpixel_input`);
    NaN where the block lies outside the mask."""
    n_regions = _block_regions(smooth, mask, voxels_per_region)
    found = None
    if n_regions:
        values, slic_mask, factor = superpixel_input(smooth[..., None], n_regions=n_regions,
                                                     mask=mask, sigma=0.0)
        found = value_range(features, mask) if factor == 1 else value_range(values, slic_mask)
    return np.array([found or (np.nan, np.nan)], dtype=np.float64).reshape(
        (1,) * smooth.ndim + (2,))


def _input_range(smooth, features, mask, voxels_per_region):
    """``(low, high)`` of the values the in-memory region mode's SLIC would
    rescale, over the whole volume: every block's SLIC takes its compactness
    relative to it (see :func:`superpixels`). A pass of its own over the
    features (the smoothed ones are not held), two numbers per block."""
    _, da = _dask()
    blocks = (smooth, features) if mask is None else (smooth, features, mask)
    ranges = da.map_blocks(_block_input_range, *blocks, dtype=np.float64,
                           chunks=tuple((1,) * len(c) for c in smooth.chunks) + ((2,),),
                           new_axis=smooth.ndim, voxels_per_region=voxels_per_region)
    ranges = ranges.compute().reshape(-1, 2)
    if np.isnan(ranges[:, 0]).all():
        return None
    return float(np.nanmin(ranges[:, 0])), float(np.nanmax(ranges[:, 1]))


def _statistics_tasks(features, supervoxels):
    """One delayed :func:`_block_statistics` per block, each reading its block plus
    one voxel beyond each upper face (the neighbours' labels across the faces)."""
    import dask

    starts = [np.concatenate([[0], np.cumsum(c)]) for c in supervoxels.chunks]
    tasks = []
    for index in np.ndindex(*supervoxels.numblocks):
        core = tuple(slice(int(s[i]), int(s[i + 1])) for s, i in zip(starts, index, strict=True))
        extended = tuple(slice(c.start, min(c.stop + 1, int(s[-1])))
                         for c, s in zip(core, starts, strict=True))
        origin = tuple(c.start for c in core)
        tasks.append(dask.delayed(_block_statistics)(
            features[extended], supervoxels[extended],
            tuple(c.stop - c.start for c in core), origin, features.shape,
        ))
    return tasks


def _block_statistics(features, labels, core_shape, origin, shape):
    """Region sums of one block and the adjacent pairs inside it and across its upper faces.

    ``features`` and ``labels`` cover the block plus (where the volume goes on)
    one voxel beyond each upper face. Returns a dict of small arrays, local ids.
    """
    core = tuple(slice(0, n) for n in core_shape)
    block = labels[core]
    n_local = int(block.max()) + 1 if block.size else 0
    if n_local <= 0:  # the whole block lies outside the mask
        return {"n": 0, "stats": None, "first": np.zeros(0, np.int64), "faces": []}
    stats = RegionStatistics.from_labels(features[core][..., None], block, n_local)
    # first voxel of each region in raster order: within one block the global
    # raster order is the block's own
    flat = block.ravel()
    inside = flat >= 0
    ids, first_local = np.unique(flat[inside], return_index=True)
    first_local = np.flatnonzero(inside)[first_local]
    position = np.unravel_index(first_local, core_shape)
    first = np.zeros(n_local, dtype=np.int64)
    first[ids] = np.ravel_multi_index(
        tuple(p + o for p, o in zip(position, origin, strict=True)), shape)
    faces = []
    for axis, n in enumerate(core_shape):
        if labels.shape[axis] == n:
            faces.append(None)  # the volume ends here
            continue
        lower = list(core)
        upper = list(core)
        lower[axis] = n - 1
        upper[axis] = n
        a, b = labels[tuple(lower)].ravel(), labels[tuple(upper)].ravel()
        touching = (a >= 0) & (b >= 0)
        a, b = a[touching].astype(np.int64), b[touching].astype(np.int64)
        step = np.abs(features[tuple(lower)].ravel()[touching]
                      - features[tuple(upper)].ravel()[touching])
        keys, inverse = np.unique((a << 32) | b, return_inverse=True)
        inverse = inverse.ravel()
        faces.append((keys >> 32, keys & 0xFFFFFFFF,
                      np.bincount(inverse, minlength=keys.size).astype(np.float64),
                      np.bincount(inverse, step, minlength=keys.size)))
    return {"n": n_local, "stats": stats, "first": first, "faces": faces}


def _global_statistics(parts, numblocks, shape):
    """One :class:`RegionStatistics` for the whole volume from the blocks' parts.

    Returns ``(stats, first, offsets)``: the global statistics, the raster index
    of every region's first voxel, and each block's id offset (C order).
    """
    counts = np.array([part["n"] for part in parts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n_nodes = int(offsets[-1])
    kept = [part for part in parts if part["n"]]
    count = np.concatenate([p["stats"].count for p in kept])
    total = np.concatenate([p["stats"].total for p in kept])
    total_sq = np.concatenate([p["stats"].total_sq for p in kept])
    first = np.concatenate([p["first"] for p in kept])
    rows, cols, length, contrast = [], [], [], []
    for b, (index, part) in enumerate(zip(np.ndindex(*numblocks), parts, strict=True)):
        if not part["n"]:
            continue
        s = part["stats"]
        rows.append(s.pairs[:, 0] + offsets[b])
        cols.append(s.pairs[:, 1] + offsets[b])
        length.append(s.length)
        contrast.append(s.contrast)
        for axis, face in enumerate(part["faces"]):
            if face is None:
                continue
            neighbour = list(index)
            neighbour[axis] += 1
            nb = int(np.ravel_multi_index(neighbour, numblocks))
            a, c, face_length, face_contrast = face
            rows.append(a + offsets[b])
            cols.append(c + offsets[nb])
            length.append(face_length)
            contrast.append(face_contrast)
    if rows:
        i, j = np.concatenate(rows), np.concatenate(cols)
        keys = np.minimum(i, j) * n_nodes + np.maximum(i, j)
        unique, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        pairs = np.stack([unique // n_nodes, unique % n_nodes], axis=1)
        length = np.bincount(inverse, np.concatenate(length), minlength=unique.size)
        contrast = np.bincount(inverse, np.concatenate(contrast), minlength=unique.size)
    else:
        pairs = np.zeros((0, 2), dtype=np.int64)
        length = contrast = np.zeros(0)
    stats = RegionStatistics(count, total, total_sq, pairs, length, contrast)
    return stats, first, offsets


def _robust_partition(features, supervoxels, stats, offsets, labels, n_segments, *, noise):
    """The in-memory region mode's :func:`robust_partition`, with the affine
    moments of the supervoxels summed block by block (only where neighbouring
    supervoxels differ by more than noise: shading)."""
    labels = np.asarray(labels)
    if int(labels.max()) + 1 != n_segments:
        return labels
    typical = shading_contrast(stats)
    if typical is None:
        return labels
    moments = _affine_moments(features, supervoxels, stats, offsets)
    return affine_partition(moments, stats, labels, n_segments, noise=noise, typical=typical)


def _affine_moments(features, supervoxels, stats, offsets):
    """:class:`AffineMoments` of every supervoxel's majority mode (as
    :func:`majority_regions` keeps it), one task per block, on the positions and
    the sample of the whole volume: the same sums as in memory, but for the
    smoothing that splits an impure supervoxel, which stops at the block faces."""
    import dask

    impure = impure_regions(stats)
    starts = [np.concatenate([[0], np.cumsum(c)]) for c in supervoxels.chunks]
    tasks = []
    for b, index in enumerate(np.ndindex(*supervoxels.numblocks)):
        lo, hi = int(offsets[b]), int(offsets[b + 1])
        if hi == lo:
            continue  # the block lies outside the mask
        core = tuple(slice(int(s[i]), int(s[i + 1])) for s, i in zip(starts, index, strict=True))
        tasks.append(dask.delayed(_block_moments)(
            features[core], supervoxels[core], impure[(impure >= lo) & (impure < hi)] - lo,
            hi - lo, origin=tuple(c.start for c in core), shape=features.shape,
        ))
    parts = dask.compute(*tasks)
    return AffineMoments(*(np.concatenate([part[i] for part in parts]) for i in range(3)))


def _block_moments(features, supervoxels, impure, n_local, *, origin, shape):
    """``(gram, cross, energy)`` of one block's supervoxels without the minority
    modes of the ``impure`` ones (local ids)."""
    features = features[..., None]
    kept = drop_minorities(features, supervoxels, impure)
    moments = AffineMoments.from_labels(features, kept, n_local, origin=origin, shape=shape)
    return moments.gram, moments.cross, moments.energy


def _constant(stats):
    """Whether every supervoxel has the same mean (a constant volume)."""
    mean = stats.mean[stats.count > 0]
    return mean.size > 0 and bool((mean.min(axis=0) == mean.max(axis=0)).all())


def _canonical_table(node_labels, first, n_segments):
    """Segment of every node, numbered by the raster order of each segment's first voxel."""
    segment_first = np.full(n_segments, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(segment_first, node_labels, first)
    rank = np.empty(n_segments, dtype=np.int32)
    rank[np.argsort(segment_first, kind="stable")] = np.arange(n_segments, dtype=np.int32)
    return rank[node_labels]


def _relabelled(supervoxels, table, offsets):
    """Lazy segment labels: each block looks its supervoxels up in its slice of ``table``."""
    import dask
    _, da = _dask()

    blocks = supervoxels.to_delayed(optimize_graph=False)  # keeps the persisted keys
    out = np.empty(blocks.shape, dtype=object)
    for b, index in enumerate(np.ndindex(*blocks.shape)):
        shape = tuple(c[i] for c, i in zip(supervoxels.chunks, index, strict=True))
        local = table[offsets[b]:offsets[b + 1]]  # only this block's slice enters its task
        out[index] = da.from_delayed(dask.delayed(_relabel_block)(blocks[index], local),
                                     shape=shape, dtype=np.int32)
    return da.block(out.tolist())


def _relabel_block(supervoxels, table):
    """Segment labels of one block: its supervoxels looked up in its ``table``."""
    out = np.full(supervoxels.shape, -1, dtype=np.int32)
    inside = supervoxels >= 0
    out[inside] = table[supervoxels[inside]]
    return out


def _snap_block(labels, features, *, width, noise=None):
    """The region mode's boundary pass on one block with its halo."""
    return snap_boundaries(features[..., None], labels, width=width,
                           noise=noise).astype(np.int32)


def _volume_noise(features):
    """The pixel noise of the features (:func:`pixel_noise`), from a central
    crop of at most ``NOISE_CROP`` voxels a side: the boundary pass moves a
    voxel only across boundaries that stand out of it, as in memory."""
    side = NOISE_CROP[features.ndim]
    crop = tuple(slice(max(0, (n - side) // 2), max(0, (n - side) // 2) + side)
                 for n in features.shape)
    return pixel_noise(np.asarray(features[crop].compute())[..., None])


def estimate_memory(shape, *, chunks=None, n_regions=None, n_workers=1, threads_per_worker=1,
                    dtype=np.float32):
    """Predict the peak memory of :func:`segment` per worker and on the client.

    Parameters
    ----------
    shape : tuple of int
        The volume's shape.
    chunks : int or tuple, optional
        Block size, as for :func:`segment`.
    n_regions : int, optional
        Supervoxels in all, as for :func:`segment`.
    n_workers, threads_per_worker : int, optional
        The cluster: each thread runs one block task at a time.
    dtype : numpy dtype, optional
        The image's dtype.

    Returns
    -------
    dict
        ``"worker"``: bytes per worker (tasks in flight plus the supervoxels
        held there); ``"client"``: bytes on the client (the region graph and
        its partition); ``"task"``: bytes of one block task; ``"supervoxels"``:
        bytes of all supervoxels held on the workers; ``"n_regions"``.

    Notes
    -----
    A model of the arrays each stage holds, calibrated on measured peaks
    (``benchmarks/distributed.py``, ``docs/scale-out.md``): a block task holds
    about ``TASK_BYTES_PER_VOXEL`` bytes per voxel of its block with the halo
    (measured: at most 102), and the workers together hold
    ``HELD_BYTES_PER_VOXEL`` bytes per voxel of the volume; a region-graph node
    costs ``CLIENT_BYTES_PER_NODE`` on the client. Against the runs of
    ``docs/scale-out.md``: 0.80 GiB predicted per worker against 0.47 GiB
    measured (256³, one worker), 1.36 against 1.10 GiB (512³, two workers), and
    0.33 against 0.23 GiB on the client (512³). The per-voxel figures were
    calibrated when the features were float64; with float32 they are upper bounds.

    Examples
    --------
    >>> estimate = estimate_memory((512, 512, 512), n_workers=2)
    >>> estimate["n_regions"], estimate["worker"] < 2 * 2**30
    (32768, True)
    """
    ndim = len(shape)
    if ndim not in (2, 3):
        raise ValueError(f"shape must be 2-D or 3-D, got {tuple(shape)}.")
    sizes = block_sizes(shape, DEFAULT_CHUNK[ndim] if chunks is None else chunks)
    n_voxels = int(np.prod(shape))
    if n_regions is None:
        n_regions = _default_regions(n_voxels, ndim)
    largest = [max(c) for c in sizes]
    halo = [min(n + 2 * (SMOOTH_HALO + 8), s) for n, s in zip(largest, shape, strict=True)]
    task = int(TASK_BYTES_PER_VOXEL * np.prod(halo))
    n_blocks = int(np.prod([len(c) for c in sizes]))
    held = HELD_BYTES_PER_VOXEL * n_voxels  # spread over the workers
    worker = BASE_WORKER_BYTES + threads_per_worker * task + held // max(n_workers, 1) + (
        n_blocks and held // n_blocks)  # a block may land unevenly
    client = BASE_CLIENT_BYTES + CLIENT_BYTES_PER_NODE * n_regions + 64 * n_blocks * 2**10
    return {"worker": int(worker), "client": int(client), "task": task,
            "supervoxels": 4 * n_voxels, "n_regions": int(n_regions)}


#: Bytes one block task holds per voxel of its block and halo (the features,
#: their smoothing, SLIC's distance and label arrays, the boundary pass;
#: measured with float64 features, an upper bound with float32).
TASK_BYTES_PER_VOXEL = 120
#: Bytes per voxel held across the workers while a job runs: the int32
#: supervoxels (4) and blocks waiting for their neighbours' halos (measured on
#: 512³ with two workers; 256³ with one held less).
HELD_BYTES_PER_VOXEL = 12
#: A worker process at rest (Python, NumPy, SciPy, scikit-image, dask, distributed).
BASE_WORKER_BYTES = 200 * 2**20
#: The client at rest.
BASE_CLIENT_BYTES = 300 * 2**20
#: Client bytes per region-graph node: the gathered statistics (about 250 bytes
#: at 5.7 edges per node) and the partition (at most 930 bytes per node measured
#: on 9-edges-per-node graphs of 0.26 to 4.1 million nodes, ``--partition``).
CLIENT_BYTES_PER_NODE = 1200

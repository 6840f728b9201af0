"""One place that checks images, masks, options, random states and graphs.

Every public entry point calls these helpers before doing any expensive work, so
that a bad argument fails fast with a message that names the bad value and the fix.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy import sparse

from ._parallel import map_chunks

__all__ = [
    "check_affinity",
    "check_image",
    "check_not_np_matrix",
    "check_mask",
    "check_spacing",
    "fill_no_data",
    "check_n_segments",
    "check_option",
    "check_positive_float",
    "check_random_state",
]


def check_option(name, value, valid):
    """Check that a string strategy option is one of ``valid``.

    Examples
    --------
    >>> check_option("solver", "amg", ("arpack", "amg"))
    'amg'
    >>> check_option("solver", "fast", ("arpack", "amg"))
    Traceback (most recent call last):
    ...
    ValueError: 'fast' is not a valid solver. Valid solvers are 'arpack', 'amg'.
    """
    if not isinstance(value, str) or value not in valid:
        listed = ", ".join(repr(v) for v in valid)
        # a parameter's name (assign_labels) is not a noun to pluralise
        kinds = f"values of {name}" if "_" in name else f"{name}s"
        raise ValueError(f"{value!r} is not a valid {name}. Valid {kinds} are {listed}.")
    return value


def check_positive_float(name, value, *, allow_zero=False):
    """Return ``value`` as a float, refusing NaN, inf, negative (and zero unless allowed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}.")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}.")
    return value


def check_random_state(random_state):
    """Normalise ``random_state`` to a :class:`numpy.random.Generator`.

    ``None`` gives a generator with a fixed seed (0), so that results reproduce by
    default; pass an integer or a Generator to vary them. The global NumPy random
    state is never used.

    Examples
    --------
    >>> rng = check_random_state(3)
    >>> isinstance(rng, np.random.Generator)
    True
    """
    if random_state is None:
        return np.random.default_rng(0)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}.")
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    raise TypeError(
        "random_state must be None, an int or a numpy.random.Generator, "
        f"got {type(random_state).__name__}."
    )


def _derive_seed(rng):
    """Draw one integer seed from ``rng`` for libraries that want an int."""
    return int(rng.integers(0, 2**31 - 1))


def check_image(image, *, channel_axis=None):
    """Validate an image and return it as float64 with channels last.

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        2-D or 3-D image, with an optional channel axis named by ``channel_axis``.
    channel_axis : int or None
        Axis holding the channels (colour), or None for a single-channel image.

    Returns
    -------
    image : (M, N[, P], C) ndarray of float64
        The image with its channel axis moved last (C == 1 for grey images).

    Examples
    --------
    >>> check_image(np.zeros((4, 5), dtype=np.uint8)).shape
    (4, 5, 1)
    >>> check_image(np.zeros((3, 4, 5)), channel_axis=0).shape
    (4, 5, 3)
    """
    if isinstance(image, np.matrix):
        image = np.asarray(image)
    image = np.asarray(image)
    # kinds: bool, signed/unsigned int, float; refuses complex, object, str, datetime,
    # timedelta (a numpy "signed integer" that is not an intensity)
    if image.dtype.kind not in "biuf":
        raise TypeError(
            f"image has dtype {image.dtype}, which cannot be segmented; "
            "pass a real-valued numeric or boolean array (e.g. image.real or image.astype(float))."
        )
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
            raise TypeError(f"channel_axis must be an int or None, got {channel_axis!r}.")
        if not -image.ndim <= channel_axis < image.ndim:
            raise ValueError(
                f"channel_axis={channel_axis} is out of range for an image with "
                f"{image.ndim} dimensions."
            )
        image = np.moveaxis(image, channel_axis, -1)
    else:
        image = image[..., np.newaxis]
    spatial_ndim = image.ndim - 1
    if spatial_ndim not in (2, 3):
        if spatial_ndim < 2 and channel_axis is not None:
            hint = (f" channel_axis={channel_axis} took one of the image's "
                    f"{spatial_ndim + 1} axes; a grey image has no channel axis: pass "
                    "channel_axis=None.")
        elif spatial_ndim < 2:
            hint = " For a 1-D signal pass a 1 x N image, e.g. image[np.newaxis]."
        else:
            hint = " If the last (or another) axis holds colour channels, pass channel_axis=-1."
        raise ValueError(
            f"image must be 2-D or 3-D (plus an optional channel axis), got spatial shape "
            f"{image.shape[:-1]}.{hint}"
        )
    if image.size == 0:
        raise ValueError(f"image is empty (shape {image.shape[:-1]}); pass a non-empty image.")
    if image.dtype != np.float64:
        image = image.astype(np.float64)
    if not np.isfinite(image).all():
        bad = ~np.isfinite(image).all(axis=-1)
        raise ValueError(_no_data_message(int(bad.sum()), bad.size, channel_axis))
    return image


def _no_data_message(n_bad, n_pixels, channel_axis):
    finite = ("np.isfinite(image)" if channel_axis is None
              else f"np.isfinite(image).all(axis={channel_axis})")
    return (
        f"image has {n_bad} of {n_pixels} pixels that are NaN or inf (no data?); leave "
        f"them out with mask={finite} (they get label -1), or replace them (e.g. "
        "np.nan_to_num). The specseg command leaves them out by itself, with a warning."
    )


def fill_no_data(image, mask, channel_axis=None):
    """Let NaN or inf pixels (no data) through where they are outside ``mask``.

    Pixels outside the mask never enter the graph, but whole-image statistics
    (feature normalisation, noise estimates, superpixels, boundary smoothing)
    see them; so a pixel with a non-finite value in any channel gets, in a
    copy, the per-channel median of the pixels inside the mask, which leaves
    those statistics within the data's range and free of NaN.

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        The image as given to :func:`specseg.segment`.
    mask : (M, N[, P]) array_like or None
        Pixels to segment (nonzero = inside).
    channel_axis : int or None
        Axis of the channels.

    Returns
    -------
    image : array_like
        ``image`` itself when it has no non-finite pixel (or is not a float
        array, or its ``channel_axis`` or ``mask`` are invalid: the usual checks
        report those), else a filled copy of the same shape and dtype.

    Raises
    ------
    ValueError
        A non-finite pixel is inside the mask, or there is no mask; the message
        names both fixes (a mask of the finite pixels, or replacing them).

    Examples
    --------
    >>> image = np.array([[np.nan, 1.0], [2.0, 3.0]])
    >>> fill_no_data(image, np.isfinite(image))
    array([[2., 1.],
           [2., 3.]])
    """
    array = np.asarray(image)
    if array.dtype.kind != "f" or _all_finite(array):
        return image
    finite = np.isfinite(array)
    if channel_axis is not None:
        if (isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral)
                or not -array.ndim <= channel_axis < array.ndim):
            return image  # check_image reports the bad channel_axis
        array = np.moveaxis(array, channel_axis, -1)
        finite = np.moveaxis(finite, channel_axis, -1).all(axis=-1)
    bad = ~finite
    if mask is None:
        raise ValueError(_no_data_message(int(bad.sum()), bad.size, channel_axis))
    inside = check_mask(mask, bad.shape)
    inside_bad = int(np.count_nonzero(bad & inside))
    if inside_bad:
        raise ValueError(
            f"image has {inside_bad} pixels inside the mask that are NaN or inf (no "
            "data?); leave them out of the mask (mask=mask & np.isfinite(image), or "
            ".all(axis=channel_axis) of it for a colour image): they get label -1; or "
            "replace them (e.g. np.nan_to_num)."
        )
    filled = array.copy()
    filled[bad] = np.median(array[inside], axis=0)
    if channel_axis is not None:
        filled = np.moveaxis(filled, -1, channel_axis)
    return filled


#: Values per step of :func:`_all_finite`: its temporary arrays stay this small.
_FINITE_CHUNK = 1 << 22


def _all_finite(array, chunk=_FINITE_CHUNK):
    """Whether every value of ``array`` is finite, checked a piece at a time.

    No image-sized temporary is made, so :func:`specseg.segment` can look for
    no-data pixels before its memory check (which needs the mode, which needs
    NaN-free values) without allocating what that check exists to refuse.
    """
    if array.size <= chunk:
        return bool(np.isfinite(array).all())
    if array.ndim == 1:
        return all(np.isfinite(array[i:i + chunk]).all() for i in range(0, array.size, chunk))
    step = chunk // max(1, array[0].size)
    if step < 1:  # one index of the first axis is still too large: split it further
        return all(_all_finite(array[i], chunk) for i in range(array.shape[0]))
    return all(np.isfinite(array[i:i + step]).all() for i in range(0, array.shape[0], step))


def check_spacing(spacing, ndim):
    """Validate a pixel spacing: one positive finite number, or one per spatial axis.

    Returns
    -------
    spacing : tuple of float
        ``ndim`` spacings; None gives ones.

    Examples
    --------
    >>> check_spacing(2, 2)
    (2.0, 2.0)
    >>> check_spacing(["a", 1], 2)
    Traceback (most recent call last):
    ...
    ValueError: spacing must be numbers (one per spatial axis, or one for all), got ['a', 1].
    """
    if spacing is None:
        return (1.0,) * ndim
    try:
        values = np.asarray(spacing)
    except (TypeError, ValueError):  # ragged sequences
        values = np.asarray(None)
    if values.dtype.kind not in "iuf" or values.ndim > 1:  # strings, None, objects, bools
        raise ValueError(
            "spacing must be numbers (one per spatial axis, or one for all), "
            f"got {spacing!r}."
        )
    if values.ndim == 1 and values.size not in (1, ndim):
        raise ValueError(
            f"spacing has {values.size} values but the image has {ndim} spatial axes; "
            f"give one per axis, or one for all, got {spacing!r}."
        )
    values = np.broadcast_to(values.astype(np.float64), (ndim,))
    if not all(np.isfinite(h) and h > 0 for h in values):
        raise ValueError(f"spacing must be positive and finite, got {tuple(values.tolist())}.")
    return tuple(float(h) for h in values)


def check_mask(mask, spatial_shape):
    """Validate a mask and return it as a boolean array, or None.

    A non-boolean mask is accepted: nonzero values are inside (so 0/255 masks work).

    Examples
    --------
    >>> check_mask(np.array([[0, 255], [255, 0]]), (2, 2))
    array([[False,  True],
           [ True, False]])
    """
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != tuple(spatial_shape):
        raise ValueError(
            f"mask has shape {mask.shape} but the image's spatial shape is "
            f"{tuple(spatial_shape)}; pass a mask of the image's spatial shape (no channel axis)."
        )
    if mask.dtype != bool:
        if not (np.issubdtype(mask.dtype, np.number)):
            raise TypeError(f"mask must be boolean or numeric, got dtype {mask.dtype}.")
        mask = mask != 0
    if not mask.any():
        raise ValueError(
            "mask is empty (no nonzero pixel), so there is nothing to segment; "
            "set the pixels to segment to True, or pass mask=None for the whole image."
        )
    return mask


def check_n_segments(n_segments, n_nodes, *, allow_auto=False, name="n_segments"):
    """Validate a number of segments against the number of nodes.

    A float with an integer value (``3.0``) is accepted. ``n_nodes=None`` checks
    only the type and the lower bound (for a check before the graph is built).

    Examples
    --------
    >>> check_n_segments(3, 10)
    3
    >>> check_n_segments(0, 10)
    Traceback (most recent call last):
    ...
    ValueError: n_segments must be >= 1, got 0; ask for at least one.
    """
    if isinstance(n_segments, str):
        if n_segments == "auto" and allow_auto:
            return n_segments
        if n_segments == "auto":
            raise ValueError(
                f'{name}="auto" is not available here (segment() chooses k automatically); '
                "pass an integer number of clusters (>= 1)."
            )
        valid = 'an integer or "auto"' if allow_auto else "an integer"
        raise ValueError(f"{name} must be {valid}, got the string {n_segments!r}.")
    if isinstance(n_segments, bool) or not isinstance(n_segments, numbers.Integral):
        if isinstance(n_segments, float) and n_segments.is_integer():
            n_segments = int(n_segments)
        else:
            extra = ' or "auto"' if allow_auto else ""
            raise TypeError(
                f"{name} must be an integer{extra}, got {type(n_segments).__name__} "
                f"{n_segments!r}; pass a whole number such as 2 or 4."
            )
    n_segments = int(n_segments)
    if n_segments < 1:
        raise ValueError(f"{name} must be >= 1, got {n_segments}; ask for at least one.")
    if n_nodes is not None and n_segments > n_nodes:
        nodes = "pixels (inside the mask)" if name == "n_segments" else "nodes"
        raise ValueError(
            f"{name}={n_segments} is more than the {n_nodes} {nodes} to segment; "
            f"ask for at most {n_nodes}."
        )
    return n_segments


def check_not_np_matrix(value, name="affinity"):
    """Refuse an ``np.matrix`` with scikit-learn's ``TypeError`` (its ``*`` is a
    matrix product and its rows stay 2-D, so code written for arrays misreads it).

    Examples
    --------
    >>> check_not_np_matrix(np.asmatrix(np.eye(2)))
    Traceback (most recent call last):
    ...
    TypeError: np.matrix is not supported. Please convert to a numpy array with np.asarray...
    """
    if isinstance(value, np.matrix):
        raise TypeError(
            "np.matrix is not supported. Please convert to a numpy array with np.asarray "
            f"(the {name} was given as an np.matrix, e.g. from a sparse matrix's .todense(); "
            "use .toarray() instead)."
        )
    return value


def check_affinity(affinity):
    """Validate an affinity matrix and return it as CSR without self-loops.

    Accepts any SciPy sparse matrix or array, or a dense square array. The
    diagonal is dropped (self-loops do not change a normalized cut). A matrix that
    is not symmetric is symmetrised as ``(A + A.T) / 2`` with a warning; negative
    or non-finite weights are refused. The caller's matrix is never modified (the
    result may share its arrays when nothing needed changing).

    Returns
    -------
    affinity : (n, n) scipy.sparse.csr_array of float64
    """
    if isinstance(affinity, np.matrix):
        affinity = np.asarray(affinity)
    matrix = _coo_without_diagonal(affinity)
    symmetric = None
    if matrix is None:
        matrix, transpose = _checked_csr(affinity)
        if transpose is not None:  # known from the sort: no third transposition
            symmetric = _is_symmetric(matrix, transpose)  # (with the diagonal: the same)
        matrix = _drop_diagonal(matrix)
    if (matrix.data == 0).any():
        if _shares_memory(matrix, affinity):
            matrix = matrix.copy()
        matrix.eliminate_zeros()
    if not (_is_symmetric(matrix) if symmetric is None else symmetric):
        warnings.warn(
            "affinity is not symmetric; using (A + A.T) / 2. Pass a symmetric matrix to "
            "silence this warning.",
            UserWarning,
            stacklevel=3,
        )
        matrix = ((matrix + matrix.T) * 0.5).tocsr()
        matrix.eliminate_zeros()
    return _with_int32_indices(matrix)


def _with_int32_indices(matrix):
    """``matrix`` with 32-bit index arrays where its size allows.

    Graphs from ``img_to_graph`` and many other sources carry 64-bit indices;
    every sparse product downstream (the Laplacian, the multigrid hierarchy, each
    solver iteration) moves a third less memory, and SciPy's sparse kernels run
    faster, with 32-bit ones.
    """
    limit = np.iinfo(np.int32).max
    if matrix.indices.dtype == np.int32 and matrix.indptr.dtype == np.int32:
        return matrix
    if max(matrix.shape[0], int(matrix.indptr[-1])) >= limit:
        return matrix
    result = sparse.csr_array(
        (matrix.data, matrix.indices.astype(np.int32), matrix.indptr.astype(np.int32)),
        shape=matrix.shape,
    )
    result.has_canonical_format = matrix.has_canonical_format
    return result


def _checked_csr(affinity):
    """``(matrix, transpose)``: ``affinity`` as canonical CSR of float64, its
    weights checked (diagonal included), and its transpose as canonical CSR
    where sorting it made one on the way (else None)."""
    if sparse.issparse(affinity):
        matrix = sparse.csr_array(affinity)
    else:
        dense = _real_dense(np.asarray(affinity))
        if dense.ndim != 2:
            raise ValueError(
                f"affinity must be a square (n_nodes, n_nodes) matrix, got shape {dense.shape}."
            )
        if dense.dtype == np.float16:  # SciPy's sparse arrays do not hold float16
            dense = dense.astype(np.float64)
        matrix = sparse.csr_array(dense)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"affinity must be a square (n_nodes, n_nodes) matrix, got shape {matrix.shape}."
        )
    if matrix.shape[0] == 0:
        raise ValueError("affinity is empty (0 nodes); pass a graph with at least one node.")
    if np.iscomplexobj(matrix.data):
        raise ValueError(_COMPLEX_AFFINITY.format(dtype=matrix.dtype))
    if matrix.dtype != np.float64:
        matrix = matrix.astype(np.float64)
    transpose = None
    if not matrix.has_canonical_format:
        # two transpositions (counting sorts, O(nnz)) sort every row, in a new
        # matrix: 0.9 ms where a copy and its sort_indices took 1.9 ms (a 10-NN graph
        # of 10,000 points, whose rows list the neighbours by distance); the first
        # is the transpose, sorted, which the symmetry test takes
        columns = matrix.tocsc()
        matrix = sparse.csr_array(columns.tocsr())
        stored = matrix.nnz
        matrix.sum_duplicates()
        if matrix.nnz == stored:  # no duplicates: the transpose is canonical too
            transpose = sparse.csr_array((columns.data, columns.indices, columns.indptr),
                                         shape=matrix.shape[::-1])
            transpose.has_canonical_format = True
    if not np.isfinite(matrix.data).all():
        raise ValueError(
            "affinity contains NaN or inf weights; affinities must be finite "
            "(replace them, e.g. with np.nan_to_num)."
        )
    if (matrix.data < 0).any():
        raise ValueError(
            "affinity has negative weights; spectral clustering needs non-negative "
            "affinities (e.g. apply np.exp(-distance / distance.std()))."
        )
    moderated = _moderate_weights(matrix)
    return moderated, (transpose if moderated is matrix else None)


_COMPLEX_AFFINITY = ("affinity must be real, got complex weights (dtype {dtype}); pass their "
                     "magnitudes or real parts, e.g. np.abs(affinity).")


def _real_dense(dense):
    """A dense affinity as real numbers, refused as scikit-learn refuses it
    (``ValueError``) where it is complex or holds what is not a number; an
    object array of numbers is converted, as scikit-learn converts it."""
    if np.iscomplexobj(dense):
        raise ValueError(_COMPLEX_AFFINITY.format(dtype=dense.dtype))
    if dense.dtype.kind in "OUSV":
        try:
            dense = dense.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"affinity must hold numbers, got dtype {dense.dtype} ({exc}); convert it, "
                "e.g. np.asarray(affinity, dtype=float)."
            ) from None
    if dense.dtype.kind not in "biuf":
        raise ValueError(
            f"affinity must hold numbers, got dtype {dense.dtype}; convert it, "
            "e.g. np.asarray(affinity, dtype=float)."
        )
    return dense


def _moderate_weights(matrix):
    """``matrix`` (CSR, finite non-negative weights) itself, or, where its weights'
    total passes ``_SAFE_TOTAL`` (degrees and cut sums would overflow), a new
    matrix with the weights scaled down by a power of two, or where it is below
    ``_TINY_TOTAL`` (the roots of the degrees would underflow), scaled up by one
    (the normalized cut does not change with the scale of the weights, and a
    power of two changes no mantissa).
    """
    with np.errstate(over="ignore"):
        total = float(matrix.data.sum())
    if 0.0 < total < _TINY_TOTAL:
        # every weight tiny: the roots of the degrees would underflow; scaled up by
        # a power of two, the largest weight comes to [0.5, 1)
        shift = int(np.frexp(matrix.data.max())[1])
        return sparse.csr_array((np.ldexp(matrix.data, -shift), matrix.indices, matrix.indptr),
                                shape=matrix.shape)
    if total <= _SAFE_TOTAL:
        return matrix
    shift = int(np.frexp(matrix.data.max())[1]) - (1000 - matrix.data.size.bit_length())
    return sparse.csr_array((np.ldexp(matrix.data, -shift), matrix.indices, matrix.indptr),
                            shape=matrix.shape)


#: Weights whose total stays below this cannot overflow when duplicates are summed.
_SAFE_TOTAL = np.finfo(np.float64).max / 4
#: Weights whose total is below this are scaled up (see :func:`_moderate_weights`).
_TINY_TOTAL = 2.0**-500


def _coo_without_diagonal(affinity):
    """CSR of a COO ``affinity``, its diagonal dropped before the one conversion, or None.

    :func:`_checked_csr` converts all entries, then :func:`_drop_diagonal` copies
    all but the diagonal again; dropping the diagonal from the COO arrays first
    converts fewer entries and copies once. The checks that the general path
    makes after summing duplicates are made on the stored weights instead, so
    this path is only taken for square float64 matrices whose stored weights are
    all non-negative with a finite total far below overflow: then no sum of
    duplicates can be negative or infinite, and the general path would accept
    the matrix too. Anything else returns None and takes the general path.

    Three or more copies of one entry in a long row may be summed in another
    order than the general path sums them (SciPy sorts each row with an
    unstable sort), so their sum can differ in the last bit.
    """
    if not sparse.issparse(affinity) or affinity.format != "coo" or affinity.ndim != 2:
        return None
    n, m = affinity.shape
    if n != m or n == 0 or affinity.dtype != np.float64:
        return None
    data, row, col = affinity.data, affinity.row, affinity.col
    chunk = _ENTRY_CHUNK

    def scan(a, b):  # the weights' checks and the entries off the diagonal, per chunk
        weights = data[a:b]
        with np.errstate(over="ignore", invalid="ignore"):
            total = float(weights.sum())
        return total, bool((weights < 0).any()), int(np.count_nonzero(row[a:b] != col[a:b]))

    parts = map_chunks(data.size, scan, chunk=chunk)
    with np.errstate(over="ignore", invalid="ignore"):
        total = sum(part[0] for part in parts)
    if any(part[1] for part in parts) or not _TINY_TOTAL <= total <= _SAFE_TOTAL:  # NaN too
        return None  # (tiny weights are scaled up there)
    offsets = np.concatenate([[0], np.cumsum([part[2] for part in parts])])
    # 32-bit indices where they fit: SciPy keeps the index type it is given
    index_dtype = np.int32 if max(n, row.size) < np.iinfo(np.int32).max else np.int64
    kept_row = np.empty(offsets[-1], dtype=index_dtype)
    kept_col = np.empty(offsets[-1], dtype=index_dtype)
    kept_data = np.empty(offsets[-1], dtype=data.dtype)

    def copy(a, b):  # the kept entries of a chunk into their place, in order
        lo, hi = offsets[a // chunk], offsets[a // chunk + 1]
        if hi - lo == b - a:
            kept_row[lo:hi], kept_col[lo:hi], kept_data[lo:hi] = row[a:b], col[a:b], data[a:b]
        else:
            keep = row[a:b] != col[a:b]
            kept_row[lo:hi], kept_col[lo:hi] = row[a:b][keep], col[a:b][keep]
            kept_data[lo:hi] = data[a:b][keep]

    map_chunks(data.size, copy, chunk=chunk)
    return sparse.csr_array((kept_data, (kept_row, kept_col)), shape=affinity.shape)


#: Entries per chunk of the passes over COO arrays.
_ENTRY_CHUNK = 65_536


def _drop_diagonal(matrix):
    """``matrix`` (CSR) without its diagonal entries, or ``matrix`` itself if it has none.

    Works on the CSR arrays directly: the row of each entry from the row
    lengths, the entries to keep, and the new row starts from the kept row
    lengths. A new matrix never shares memory with ``matrix``.
    """
    n = matrix.shape[0]
    indptr = matrix.indptr
    stored = int(indptr[-1])
    indices = matrix.indices[:stored]
    lengths = np.diff(indptr)
    on_diagonal = indices == np.repeat(np.arange(n, dtype=indices.dtype), lengths)
    diagonal = np.flatnonzero(on_diagonal)
    if diagonal.size == 0:
        return matrix
    keep = np.logical_not(on_diagonal, out=on_diagonal)
    # a diagonal entry's column is its row
    kept_lengths = lengths - np.bincount(indices[diagonal], minlength=n)
    kept_indptr = np.zeros_like(indptr)
    np.cumsum(kept_lengths, out=kept_indptr[1:])
    result = sparse.csr_array(
        (np.compress(keep, matrix.data[:stored]), np.compress(keep, indices), kept_indptr),
        shape=matrix.shape,
    )
    if matrix.has_canonical_format:  # dropping entries keeps the order
        result.has_canonical_format = True
    return result


def _shares_memory(matrix, original):
    """Whether ``matrix`` may use the memory of ``original`` (which must not change)."""
    if isinstance(original, np.ndarray):
        theirs = [original]
    else:
        theirs = [getattr(original, name, None) for name in ("data", "indices", "indptr")]
    ours = (matrix.data, matrix.indices, matrix.indptr)
    return any(
        isinstance(array, np.ndarray) and np.may_share_memory(array, mine)
        for array in theirs
        for mine in ours
    )


def _is_symmetric(matrix, transpose=None):
    """Whether ``matrix`` equals its transpose up to 1e-10 of its largest weight (or of 1).

    ``matrix`` is canonical CSR with non-negative weights, so where its
    transpose (canonical CSR, made here if not given) has the same pattern the
    weights can be compared entry by entry; otherwise they are compared
    through ``matrix - matrix.T``.
    """
    tolerance = 1e-10 * max(matrix.data.max(initial=0.0), 1.0)
    if transpose is None:
        transpose = matrix.T.tocsr()
    if np.array_equal(transpose.indptr, matrix.indptr) and np.array_equal(
        transpose.indices, matrix.indices
    ):
        ours, theirs = matrix.data, transpose.data

        def largest_difference(a, b):
            return float(np.abs(ours[a:b] - theirs[a:b]).max(initial=0.0))

        return max(map_chunks(ours.size, largest_difference, chunk=_ENTRY_CHUNK),
                   default=0.0) <= tolerance
    asym = matrix - transpose
    return not (asym.nnz and abs(asym).max() > tolerance)

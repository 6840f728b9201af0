"""Row-parallel kernels: sparse products and fused passes over tall blocks.

The eigensolver's work is a handful of sweeps over tall blocks (``n`` rows,
a few columns) and sparse products with them; it is bound by memory traffic.
Two things make it faster without changing any result:

- **chunks**: a sweep runs over fixed chunks of ``CHUNK_ROWS`` rows and does all
  its steps on one chunk while it is in cache, instead of one full pass over
  memory per NumPy call;
- **threads**: NumPy's element-wise functions, BLAS and SciPy's compiled sparse
  kernels release the GIL, so a pool of threads works on different chunks at
  the same time, one core each.

Every chunk's result depends only on its own rows and the chunk boundaries are
fixed, so results are bit-for-bit the same with any number of threads; sums
over rows (Gram matrices, norms) add the chunks' partial sums in chunk order.

The number of threads is the number of CPUs this process may use, or the
environment variable ``SPECSEG_NUM_THREADS``. BLAS itself is kept to one thread
inside the solvers (see ``_embedding._blas_threads_for``), so the threads do
not oversubscribe the cores.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse

try:  # SciPy's compiled kernels that write into given outputs
    from scipy.sparse._sparsetools import csr_matmat as _csr_matmat
    from scipy.sparse._sparsetools import csr_matmat_maxnnz as _csr_matmat_maxnnz
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover - the public products are used instead
    _csr_matmat = _csr_matmat_maxnnz = _csr_matvecs = None

__all__ = ["CHUNK_ROWS", "gram", "map_chunks", "num_threads", "single_threaded_blas",
           "spgemm", "spmm"]

#: Rows per chunk: a chunk of a few blocks of 8 float64 columns fits in cache.
CHUNK_ROWS = 16_384

_local = threading.local()
_pool = None
_pool_lock = threading.Lock()


def num_threads():
    """Threads used by the row-parallel kernels (``SPECSEG_NUM_THREADS`` or the CPUs)."""
    value = os.environ.get("SPECSEG_NUM_THREADS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(
                f"SPECSEG_NUM_THREADS must be a positive integer, got {value!r}."
            ) from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


_controller = None


def single_threaded_blas():
    """A context in which BLAS runs on one thread (the threads here share the cores).

    The :class:`threadpoolctl.ThreadpoolController` that finds the BLAS
    libraries is made once (a few milliseconds), not on every call.
    """
    global _controller
    from threadpoolctl import ThreadpoolController

    with _pool_lock:
        if _controller is None:
            _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def single_threaded_openmp():
    """A context in which OpenMP code (scikit-learn's k-means) runs on one thread.

    On a shared machine OpenMP threads that wait for each other spin: measured on
    2 busy cores, ``KMeans(10, n_init=10)`` on 20,000 rows of 10 columns took
    2.2 s with its default threads and 0.14 s with OpenMP and BLAS on one.
    """
    global _controller
    from threadpoolctl import ThreadpoolController

    with _pool_lock:
        if _controller is None:
            _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="openmp")


def _executor(n):
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="specseg")
        return _pool


def map_chunks(n_rows, work, *, chunk=CHUNK_ROWS):
    """Call ``work(start, stop)`` on consecutive row chunks; results in chunk order.

    Chunks are shared out to the threads in contiguous runs. A call made from
    inside a chunk (nested) runs serially.

    Examples
    --------
    >>> x = np.arange(10.0)
    >>> [float(s) for s in map_chunks(x.size, lambda a, b: x[a:b].sum(), chunk=4)]
    [6.0, 22.0, 17.0]
    """
    starts = range(0, n_rows, chunk)
    bounds = [(a, min(a + chunk, n_rows)) for a in starts]
    n = min(num_threads(), len(bounds))
    if n <= 1 or getattr(_local, "inside", False):
        return [work(a, b) for a, b in bounds]

    def run(group):
        _local.inside = True
        try:
            return [work(a, b) for a, b in group]
        finally:
            _local.inside = False

    groups = [list(g) for g in np.array_split(np.array(bounds, dtype=np.int64), n)]
    groups = [[(int(a), int(b)) for a, b in g] for g in groups]
    results = []
    for part in _executor(n).map(run, groups):
        results.extend(part)
    return results


def gram(pairs, n_rows, *, stacked=None):
    """``[L.T @ R for L, R in pairs]`` for tall blocks, in one chunked sweep.

    With many pairs (the Rayleigh-Ritz step of LOBPCG asks for nine), each
    chunk's distinct left and right blocks are copied side by side into two
    cache-sized buffers and multiplied once: one product of a few dozen
    columns runs at several times the speed per entry of many products of
    a few columns each (OpenBLAS's kernel for small outputs is slow).
    ``stacked=False`` asks for separate products all the same: on blocks of
    up to ``CHUNK_ROWS`` rows the copies cost more than they save (nine Gram
    matrices of 10,000 x 9 blocks: 0.7 ms separately, 1.2-1.5 ms stacked; at
    30,000 rows about equal, at 100,000 rows 16 and 12 ms). The two sum in
    different orders, so the choice changes the last bits of the results.

    Examples
    --------
    >>> a = np.arange(12.0).reshape(6, 2)
    >>> np.array_equal(gram([(a, a)], 6)[0], a.T @ a)
    True
    """
    lefts = _distinct([left for left, _ in pairs])
    rights = _distinct([right for _, right in pairs])
    left_edges = np.cumsum([0] + [block.shape[1] for block in lefts])
    right_edges = np.cumsum([0] + [block.shape[1] for block in rights])
    if stacked is None:
        stacked = (len(pairs) >= _STACKED_MIN_PAIRS
                   and left_edges[-1] * right_edges[-1] >= _STACKED_MIN_SIZE)
    if not stacked:

        def work(a, b):
            return [left[a:b].T @ right[a:b] for left, right in pairs]

        partials = map_chunks(n_rows, work)
        return [np.sum([p[i] for p in partials], axis=0) for i in range(len(pairs))]
    dtype = np.result_type(*lefts, *rights)
    chunk_rows = min(STACKED_CHUNK_ROWS, n_rows)
    buffers = {}  # per thread, for this call only

    def stacked(a, b):
        key = threading.get_ident()
        if key not in buffers:
            buffers[key] = (np.empty((chunk_rows, left_edges[-1]), dtype=dtype),
                            np.empty((chunk_rows, right_edges[-1]), dtype=dtype))
        left, right = buffers[key][0][: b - a], buffers[key][1][: b - a]
        for blocks, edges, out in ((lefts, left_edges, left), (rights, right_edges, right)):
            for block, lo, hi in zip(blocks, edges[:-1], edges[1:], strict=True):
                out[:, lo:hi] = block[a:b]
        return left.T @ right

    total = np.sum(map_chunks(n_rows, stacked, chunk=STACKED_CHUNK_ROWS), axis=0)
    results = []
    for left, right in pairs:
        i, j = _index(lefts, left), _index(rights, right)
        rows, columns = slice(*left_edges[i : i + 2]), slice(*right_edges[j : j + 2])
        results.append(total[rows, columns])
    return results


#: ``gram`` stacks the blocks of at least this many pairs ...
_STACKED_MIN_PAIRS = 6
#: ... when the stacked product has at least this many entries (smaller ones
#: still get OpenBLAS's slow kernel for small outputs).
_STACKED_MIN_SIZE = 400
#: Rows per chunk of the stacked Gram product (its buffers stay in cache).
STACKED_CHUNK_ROWS = 8192


def _distinct(blocks):
    """The blocks in order of first appearance, each once (by identity)."""
    seen = []
    for block in blocks:
        if _index(seen, block) is None:
            seen.append(block)
    return seen


def _index(blocks, block):
    return next((i for i, other in enumerate(blocks) if other is block), None)


def _row_band(matrix, a, b):
    """Rows ``a:b`` of a CSR matrix, sharing its index and value arrays."""
    lo, hi = matrix.indptr[a], matrix.indptr[b]
    return sparse.csr_array(
        (matrix.data[lo:hi], matrix.indices[lo:hi], matrix.indptr[a : b + 1] - lo),
        shape=(b - a, matrix.shape[1]),
    )


def spgemm(left, right):
    """The sparse product ``left @ right`` (CSR), bands of rows in parallel.

    The bands have about equal numbers of non-zeros of ``left``; each band's
    rows are computed exactly as in the serial product (SciPy's kernel), and
    written straight into the result's arrays.

    Examples
    --------
    >>> from scipy import sparse
    >>> a = sparse.random_array((50, 40), density=0.1, format="csr", rng=0)
    >>> b = sparse.random_array((40, 30), density=0.1, format="csr", rng=1)
    >>> bool(abs(spgemm(a, b) - a @ b).max() < 1e-15)
    True
    """
    left, right = sparse.csr_array(left), sparse.csr_array(right)
    n = num_threads()
    if n == 1 or left.nnz < 200_000 or getattr(_local, "inside", False):
        return sparse.csr_array(left @ right)
    targets = np.linspace(0, left.nnz, n + 1)[1:-1]
    cuts = [0, *np.searchsorted(left.indptr, targets).tolist(), left.shape[0]]
    bands = [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
    if _csr_matmat is None:  # pragma: no cover

        def product(band):
            _local.inside = True
            try:
                return sparse.csr_array(_row_band(left, *band) @ right)
            finally:
                _local.inside = False

        parts = list(_executor(n).map(product, bands))
        return sparse.csr_array(sparse.vstack(parts, format="csr"))
    return _banded_product(left, right, bands, _executor(n))


def _banded_product(left, right, bands, executor):
    """``left @ right`` with SciPy's two-pass kernel run on row bands in threads:
    the sizes of all bands first, then each band written into its place."""
    n_cols = right.shape[1]
    limit = np.iinfo(np.int32).max
    index_dtype = np.result_type(left.indptr, left.indices, right.indptr, right.indices)
    if max(left.nnz, right.nnz, *left.shape, n_cols) >= limit:
        index_dtype = np.int64
    Ap, Aj, Bp, Bj = (array.astype(index_dtype, copy=False) for array in
                      (left.indptr, left.indices, right.indptr, right.indices))
    dtype = np.result_type(left.dtype, right.dtype)  # SciPy's kernel takes one type
    Ax, Bx = left.data.astype(dtype, copy=False), right.data.astype(dtype, copy=False)

    def band_arrays(a, b):
        lo, hi = Ap[a], Ap[b]
        return Ap[a : b + 1] - lo, Aj[lo:hi], Ax[lo:hi]

    def count(band):
        a, b = band
        band_p, band_j, _ = band_arrays(a, b)
        return int(_csr_matmat_maxnnz(b - a, n_cols, band_p, band_j, Bp, Bj))

    sizes = list(executor.map(count, bands))
    total = sum(sizes)
    if total >= limit and index_dtype != np.int64:  # pragma: no cover - huge products
        return sparse.csr_array(left @ right)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    indptr = np.empty(left.shape[0] + 1, dtype=index_dtype)
    indptr[0] = 0
    indices = np.empty(total, dtype=index_dtype)
    data = np.empty(total, dtype=dtype)

    def fill(i):
        (a, b), lo, hi = bands[i], offsets[i], offsets[i + 1]
        band_p, band_j, band_x = band_arrays(a, b)
        local = np.empty(b - a + 1, dtype=index_dtype)
        _csr_matmat(b - a, n_cols, band_p, band_j, band_x, Bp, Bj, Bx, local,
                    indices[lo:hi], data[lo:hi])
        indptr[a + 1 : b + 1] = local[1:] + lo
        return int(local[-1])  # below the count where entries cancelled to zero

    written = list(executor.map(fill, range(len(bands))))
    if written != sizes:  # close the gaps that cancelled entries left
        keep = np.concatenate(
            [np.arange(lo, lo + w) for lo, w in zip(offsets[:-1], written, strict=True)]
        )
        for i, (a, b) in enumerate(bands):
            indptr[a + 1 : b + 1] -= offsets[i] - sum(written[:i])
        indices, data = indices[keep], data[keep]
    return sparse.csr_array((data, indices, indptr), shape=(left.shape[0], n_cols))


def spmm(matrix, block, epilogue=None):
    """``matrix @ block`` for a CSR matrix and a dense block, rows in parallel.

    Parameters
    ----------
    matrix : scipy.sparse CSR matrix or array
    block : (n_columns,) or (n_columns, k) ndarray
        Cast to the matrix's dtype.
    epilogue : callable, optional
        ``epilogue(out, start, stop)`` is called on each chunk of the result
        (``out`` is that chunk, to change in place) right after it is computed,
        while it is in cache. It must not read rows of the result outside its
        chunk.

    Returns
    -------
    out : ndarray
        A new array; never a view of ``block``.

    Examples
    --------
    >>> from scipy import sparse
    >>> m = sparse.csr_array(np.array([[0.0, 1.0], [2.0, 0.0]]))
    >>> spmm(m, np.array([[1.0], [3.0]]))
    array([[3.],
           [2.]])
    """
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    n_rows, n_cols = matrix.shape
    x = np.ascontiguousarray(block, dtype=data.dtype)
    width = 1 if x.ndim == 1 else x.shape[1]
    out = np.empty((n_rows,) if x.ndim == 1 else (n_rows, width), dtype=data.dtype)
    flat_x = x.reshape(-1)

    def work(a, b):
        lo, hi = indptr[a], indptr[b]
        chunk = out[a:b]
        if _csr_matvecs is None:  # pragma: no cover
            part = sparse.csr_array((data[lo:hi], indices[lo:hi], indptr[a : b + 1] - lo),
                                    shape=(b - a, n_cols))
            chunk[...] = part @ x
        else:
            chunk.fill(0)
            _csr_matvecs(b - a, n_cols, width, indptr[a : b + 1] - lo, indices[lo:hi],
                         data[lo:hi], flat_x, chunk.reshape(-1))
        if epilogue is not None:
            epilogue(chunk, a, b)

    map_chunks(n_rows, work)
    return out

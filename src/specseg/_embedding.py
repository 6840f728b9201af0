"""Graph -> spectral embedding: the normalized-cut eigenproblem and its solvers.

The normalized cut
------------------
For a graph with affinity matrix ``W`` (no self-loops), degrees
``D = diag(W 1)`` and Laplacian ``L = D - W``, the relaxed k-way normalized cut
(Shi & Malik 2000) is solved by the ``k`` smallest generalized eigenpairs

.. math::

    L v = \\lambda D v,

or, equivalently, with ``u = D^{1/2} v``, by the smallest eigenpairs of the
normalized Laplacian ``L_sym = I - D^{-1/2} W D^{-1/2}``. Its eigenvalues lie in
[0, 2]; ``0`` has the multiplicity of the number of connected components, with
the component indicators as eigenvectors ``v``.

This module works with ``L_sym`` (unit diagonal, so every solver sees a well
scaled matrix) and returns the embedding ``v = D^{-1/2} u``, one row per node.

Connected components are found first; each is solved on its own and the ``k``
smallest eigenpairs over all components are kept, so a disconnected graph gives
exact component indicators rather than an arbitrary basis of the null space.

References
----------
.. [1] J. Shi and J. Malik, "Normalized cuts and image segmentation", IEEE TPAMI
       22(8), 2000. :doi:`10.1109/34.868688`
.. [2] A. V. Knyazev, "Toward the optimal preconditioned eigensolver: LOBPCG",
       SIAM J. Sci. Comput. 23(2), 2001. :doi:`10.1137/S1064827500366124`
"""

from __future__ import annotations

import numbers
import warnings
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse import csgraph
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, eigsh

from ._allocator import job_memory
from ._lobpcg import _svqb, lobpcg_smallest
from ._multigrid import IdentityMinus, build_hierarchy
from ._parallel import CHUNK_ROWS, map_chunks, single_threaded_blas, spgemm, spmm
from ._validation import check_affinity, check_option, check_random_state

__all__ = ["SOLVERS", "spectral_embedding"]

SOLVERS = ("auto", "arpack", "lobpcg", "amg", "dense")

#: Graphs up to this many nodes are solved densely by "auto".
DENSE_MAX_NODES = 1500
#: Graphs up to this many nodes use shift-invert ARPACK under "auto".
ARPACK_MAX_NODES = 20_000
#: ... and only where the LU factor of shift-invert stays thin: "auto" takes "amg"
#: instead when the mean band of a breadth-first level ordering (see
#: ``_level_band``) is above this. Measured on 2 cores, arpack against amg: pixel
#: graphs of masked 2-D images (band 54 at 2,700 nodes: arpack 0.08 s, amg 0.13 s;
#: band 108 at 10,800: 0.27 s, 0.19 s), 2-D grids (band 187 at 19,600: 0.96 s,
#: 0.51 s), 3-D grids (band 440 at 8,000: 1.1 s, 0.41 s; band 800 at 19,700:
#: 6.8 s, 0.72 s), 10-NN graphs of 10-D blobs (band 480 at 3,000: 0.37 s, 0.20 s;
#: band 2,200 at 12,000: 5.1 s, 0.59 s; band 3,700 at 20,000: 22.5 s, 1.0 s).
ARPACK_MAX_BAND = 120
#: Fallback solvers are only tried on graphs up to these sizes.
ARPACK_FALLBACK_MAX_NODES = 1_000_000
DENSE_FALLBACK_MAX_NODES = 20_000
#: Above this many nodes "amg" does no iterations on the finest level: the
#: Ritz vectors of the level below, interpolated, are the embedding (see
#: ``_solve_amg``); the memory of a block eigensolver on the finest level would
#: dominate the whole job.
FINE_SOLVE_MAX_NODES = 2_000_000
#: Iteration cap of the preconditioned solve on the finest level.
FINE_MAXITER = 200

#: Default residual tolerance ``||L_sym u - lambda u||`` of "lobpcg" and "amg"
#: on large graphs (``L_sym`` has norm <= 2, so it is also relative). Measured on
#: the benchmark scenes (four circles 800² and 1600², Voronoi frames 512²), the
#: normalized cut after assignment and refinement stays within 1% of the value
#: reached at 1e-5 to 1e-7, and the ARI is unchanged; at 3e-4 the 1600² circles
#: lost 5% in ncut and fell below ARI 0.97. Graphs under ``SMALL_TOL_MAX_NODES``
#: nodes are solved ten times tighter, to ``SMALL_TOL``: the error of an
#: eigenvector is about its residual over the eigengap after the wanted pairs,
#: and smaller graphs have wider gaps (a 2-D grid's shrink with the number of
#: pixels), so the margin over what the assignment needs is larger still there.
#: Tighter costs iterations and changes no labels: 10-NN graphs of 10-D blobs,
#: 10 clusters, 10,000 nodes take 16 "amg" iterations to 1e-8, 12 to 1e-6,
#: 9 to 1e-5 and 7 to 1e-4, all with ARI 0.9883 (20,000 nodes: 15, 11, 9, 7,
#: ARI 0.9884). "amg" takes ``ITERATIVE_TOL`` under ``SMALL_TOL_MAX_NODES`` too on
#: graphs of high-dimensional data (``_amg_default_tol``), whose eigengap after the cluster
#: eigenvalues is wide: the "kmeans" labels of those two graphs and of a 64-D
#: mixture of 20,000 points were the same as at 1e-5, in 10-15% less time of the
#: whole clustering. Graphs that "auto" solves densely (up to ``DENSE_MAX_NODES``),
#: when an iterative solver is asked for by name, are solved to ``TIGHT_TOL``,
#: where it costs next to nothing and the vectors match the dense solver's.
ITERATIVE_TOL = 1e-4
SMALL_TOL = 1e-5
SMALL_TOL_MAX_NODES = 50_000
TIGHT_TOL = 1e-8


class SpectralWarning(UserWarning):
    """A numerical problem was found and handled (e.g. a solver fell back)."""


@dataclass
class RitzPairs:
    """Approximate eigenpairs that a solver returns ready (no Rayleigh-Ritz)."""

    vectors: np.ndarray  # (n, k), orthonormal
    values: np.ndarray  # (k,)
    residuals: np.ndarray  # (k,)


@dataclass
class EmbeddingResult:
    """Eigenpairs of the normalized-cut problem (internal)."""

    embedding: np.ndarray  # (n_nodes, k), v = D^-1/2 u
    eigenvalues: np.ndarray  # (k,), ascending
    solver: str  # solver that produced the answer
    n_components: int  # connected components of the graph
    residuals: np.ndarray  # (k,) ||L_sym u - lambda u|| of each eigenpair


def spectral_embedding(
    affinity,
    n_components,
    *,
    solver="auto",
    tol=None,
    random_state=None,
    return_eigenvalues=False,
):
    """Embed the nodes of a graph by the normalized-cut eigenvectors.

    Parameters
    ----------
    affinity : (n, n) sparse matrix or ndarray
        Symmetric non-negative affinities. The diagonal is ignored.
    n_components : int
        Number of eigenvectors (including the trivial constant one).
    solver : {"auto", "arpack", "lobpcg", "amg", "dense"}, optional
        "dense" uses LAPACK on the full matrix (small graphs); "arpack" uses
        shift-invert Lanczos (accurate, memory grows with the LU factor);
        "lobpcg" is unpreconditioned LOBPCG; "amg" is LOBPCG preconditioned by a
        smoothed-aggregation multigrid block V-cycle (see ``_multigrid``), started
        from the solution on its
        coarsest level. "auto" picks "dense", "arpack" or "amg" by graph size,
        and "amg" instead of "arpack" where the graph's structure (a 3-D grid, a
        k-NN graph of high-dimensional data) would make the LU factor fill in.
    tol : float, optional
        Residual tolerance ``||L_sym u - lambda u||`` of each eigenpair for the
        iterative solvers (default: machine precision for "arpack"; for
        "lobpcg" and "amg", 1e-8 up to 1,500 nodes, 1e-5 under 50,000 (1e-4 for
        "amg" on graphs of high-dimensional data, where the hierarchy's first
        level is left unsmoothed) and 1e-4
        above, where the final normalized cut was measured to stay within 1% of
        a tight solve; ``L_sym`` has norm at most 2).
    random_state : None, int or numpy.random.Generator, optional
        Seeds the starting vectors. None means a fixed default seed.
    return_eigenvalues : bool, optional
        Also return the eigenvalues of the normalized Laplacian.

    Returns
    -------
    embedding : (n, n_components) ndarray
        Generalized eigenvectors ``v`` of ``L v = lambda D v`` (columns, in
        ascending order of eigenvalue), each with a deterministic sign.
    eigenvalues : (n_components,) ndarray
        Only if ``return_eigenvalues``.

    Examples
    --------
    >>> from scipy import sparse
    >>> path = sparse.diags([np.ones(5), np.ones(5)], [-1, 1], shape=(6, 6))
    >>> emb, lam = spectral_embedding(path, 2, return_eigenvalues=True)
    >>> emb.shape
    (6, 2)
    >>> np.round(lam, 4)
    array([0.   , 0.191])
    """
    affinity = check_affinity(affinity)
    check_option("solver", solver, SOLVERS)
    n_nodes = affinity.shape[0]
    if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
        raise TypeError(f"n_components must be an integer, got {n_components!r}.")
    if not 1 <= n_components <= n_nodes:
        raise ValueError(
            f"n_components must be between 1 and the number of nodes ({n_nodes}), "
            f"got {n_components}."
        )
    rng = check_random_state(random_state)
    with job_memory(_touched_bytes(affinity, int(n_components), solver)):
        result = _embed(affinity, int(n_components), solver=solver, tol=tol, rng=rng)
    if return_eigenvalues:
        return result.embedding, result.eigenvalues
    return result.embedding


def _embed(affinity, k, *, solver, tol, rng, progress=None):
    """Solve per connected component and keep the ``k`` smallest eigenpairs."""
    n_nodes = affinity.shape[0]
    n_comp, comp = csgraph.connected_components(affinity, directed=False)
    if n_comp > 1:
        if n_comp > k:
            advice = (
                f"{k} eigenvectors cannot tell them all apart, so some components must "
                "share a segment; ask for at least as many segments as components, or use a "
                "mask whose pixels are connected."
            )
        else:
            advice = "each is embedded on its own and no segment will span two of them."
        warnings.warn(
            f"the graph is not fully connected: it has {n_comp} connected components; "
            f"{advice}",
            SpectralWarning,
            stacklevel=3,
        )
    candidates = []  # (eigenvalue, -component size, component id, nodes, vector, residual)
    solvers_used = set()
    if n_comp == 1:
        groups = [np.arange(n_nodes)]
    else:
        order = np.argsort(comp, kind="stable")
        bounds = np.searchsorted(comp[order], np.arange(n_comp + 1))
        groups = [order[bounds[c] : bounds[c + 1]] for c in range(n_comp)]
    if n_comp == 1 and n_nodes > 1:
        # one component: the solver's vectors are the embedding (no copy)
        lam, vec, residual, used = _solve_connected(affinity, k, solver=solver, tol=tol, rng=rng)
        _fix_signs(vec)
        return EmbeddingResult(vec, np.maximum(lam, 0.0), used, 1, np.asarray(residual))
    for c, nodes in enumerate(groups):
        size = nodes.size
        if size == 1 or n_comp >= k:
            # only the indicator can rank among the k smallest eigenpairs
            candidates.append((0.0, -size, c, nodes, np.ones(size), 0.0))
            continue
        sub = affinity if n_comp == 1 else affinity[nodes][:, nodes]
        k_sub = min(k, size)
        lam, vec, residual, used = _solve_connected(sub, k_sub, solver=solver, tol=tol, rng=rng)
        solvers_used.add(used)
        for j in range(k_sub):
            candidates.append((float(lam[j]), -size, c, nodes, vec[:, j], float(residual[j])))
    candidates.sort(key=lambda t: (round(t[0], 12), t[1], t[2]))
    chosen = candidates[:k]
    embedding = np.zeros((n_nodes, k))
    eigenvalues = np.empty(k)
    residuals = np.empty(k)
    for j, (lam, _, _, nodes, vec, residual) in enumerate(chosen):
        embedding[nodes, j] = vec
        eigenvalues[j] = max(lam, 0.0)
        residuals[j] = residual
    _fix_signs(embedding)
    used = "+".join(sorted(solvers_used)) if solvers_used else "exact"
    return EmbeddingResult(embedding, eigenvalues, used, n_comp, residuals)


def _fix_signs(vectors):
    """Flip each column so that its entry of largest magnitude is positive.

    Where the largest and the most negative entries have the same magnitude,
    the one that comes first decides (as ``argmax(abs(column))`` would).
    """
    high, low = _column_max_min(vectors)
    low = -low
    negative = low > high
    for j in np.flatnonzero((low == high) & (high > 0)):
        column = vectors[:, j]
        negative[j] = np.argmax(column == -low[j]) < np.argmax(column == high[j])
    if negative.any():
        signs = np.where(negative, -1.0, 1.0)
        map_chunks(vectors.shape[0], lambda a, b: np.multiply(vectors[a:b], signs,
                                                              out=vectors[a:b]))


def _column_max_min(vectors):
    """Column maxima and minima of a tall block, row chunks in parallel.

    NumPy reduces a narrow array along its rows slowly (one short inner loop per
    row); viewing 64 rows as one wide row makes the same reduction vectorize.
    """
    n, k = vectors.shape
    if not vectors.flags.c_contiguous:
        return vectors.max(axis=0), vectors.min(axis=0)

    def work(a, b):
        chunk = vectors[a:b]
        head = (b - a) - (b - a) % 64
        high, low = np.full(k, -np.inf), np.full(k, np.inf)
        if head:
            wide = chunk[:head].reshape(-1, 64 * k)
            high = wide.max(axis=0).reshape(64, k).max(axis=0)
            low = wide.min(axis=0).reshape(64, k).min(axis=0)
        if head < b - a:
            high = np.maximum(high, chunk[head:].max(axis=0))
            low = np.minimum(low, chunk[head:].min(axis=0))
        return high, low

    parts = map_chunks(n, work)
    return np.max([p[0] for p in parts], axis=0), np.min([p[1] for p in parts], axis=0)


def _hstack_rows(blocks):
    """``np.hstack(blocks)`` for tall blocks, row chunks in parallel."""
    widths = [block.shape[1] for block in blocks]
    edges = np.concatenate([[0], np.cumsum(widths)])
    out = np.empty((blocks[0].shape[0], edges[-1]), dtype=np.result_type(*blocks))

    def work(a, b):
        for block, lo, hi in zip(blocks, edges[:-1], edges[1:], strict=True):
            out[a:b, lo:hi] = block[a:b]

    map_chunks(out.shape[0], work)
    return out


def _normalized_laplacian(affinity):
    """Return ``(L_sym, sqrt_degree)`` for a connected graph with no self-loops.

    ``L_sym = I - D^-1/2 W D^-1/2`` is returned as an :class:`IdentityMinus`
    (products, and ``.tocsr()`` where a solver needs the explicit matrix), so that
    large graphs hold one scaled copy of ``W`` and no second matrix.
    """
    indptr, indices = affinity.indptr, affinity.indices
    sqrt_degree = np.sqrt(spmm(affinity, np.ones(affinity.shape[0])))
    inv = 1.0 / sqrt_degree
    data = np.empty(affinity.data.shape)

    def scale(a, b):  # w_ij / sqrt(d_i d_j), row chunk by row chunk
        lo, hi = indptr[a], indptr[b]
        chunk = data[lo:hi]
        np.multiply(affinity.data[lo:hi], inv[indices[lo:hi]], out=chunk)
        chunk *= np.repeat(inv[a:b], np.diff(indptr[a : b + 1]))

    map_chunks(affinity.shape[0], scale)
    # the pattern is the affinity's: its index arrays are shared, not copied
    scaled = sparse.csr_array((data, indices, indptr), shape=affinity.shape)
    return IdentityMinus(scaled, 1.0), sqrt_degree


def _touched_bytes(affinity, k, solver="auto"):
    """Memory that the "amg" solver newly touches on a large sparse graph, for
    ``_allocator.prefaulted``: about eight blocks of ``k`` float64 vectors for the
    fine-level solve and three copies of the matrix (validated, scaled, and the
    first level of the hierarchy); 0 for graphs the other solvers take, and
    above ``FINE_SOLVE_MAX_NODES``, where "amg" makes no blocks on the finest level
    (mapping memory ahead there only raised the peak, by up to 70 %)."""
    shape = getattr(affinity, "shape", ())
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        k = 8  # a bad k is refused later; "auto" embeds up to 17 vectors
    if len(shape) != 2 or not sparse.issparse(affinity) or shape[0] != shape[1]:
        return 0
    if _resolve_solver(solver, shape[0], int(k)) != "amg" or shape[0] > FINE_SOLVE_MAX_NODES:
        return 0
    return 8 * 8 * shape[0] * int(k) + 3 * 12 * affinity.nnz


def _resolve_solver(solver, n_nodes, k=1):
    """The solver that runs first by size alone: tiny graphs are always solved
    densely (exact and cheap); otherwise "auto" picks by size (``_first_solver``
    also looks at the graph's structure)."""
    if n_nodes < 5 * k:
        return "dense"
    if solver != "auto":
        return solver
    if n_nodes <= DENSE_MAX_NODES:
        return "dense"
    if n_nodes <= ARPACK_MAX_NODES:
        return "arpack"
    return "amg"


def _level_band(affinity):
    """Mean band of a breadth-first level ordering of a connected graph: an
    estimate, in O(edges), of the LU fill per node of a sparse factorization.

    Nodes are numbered level by level from a pseudo-peripheral node (the last
    one reached from node 0); with ``w_i`` nodes on level ``i``, a factor of that
    ordering has at most ``w_i (w_{i-1} + w_i)`` entries in the rows of level
    ``i``. Returns ``sum_i w_i (w_{i-1} + w_i) / n``. It stays small on graphs
    that are long and thin in graph distance (2-D pixel graphs: about
    ``sqrt(n)``) and grows fast where a fill-reducing ordering cannot help much
    either: 3-D grids (about ``n^(2/3)``), k-NN graphs of high-dimensional data
    (a few levels holding most nodes).

    Examples
    --------
    >>> from scipy import sparse
    >>> path = sparse.diags([np.ones(9), np.ones(9)], [-1, 1]).tocsr()
    >>> float(_level_band(path))  # 1 (1 + 1) per level, first level 1 (0 + 1)
    1.9
    """
    start = 0
    for _ in range(2):  # the second sweep starts from the farthest node of the first
        levels = _bfs_levels(affinity, start)
        start = int(np.argmax(levels))
    widths = np.bincount(levels).astype(np.float64)
    return float(np.sum(widths * (widths + np.concatenate([[0.0], widths[:-1]])))
                 / affinity.shape[0])


def _bfs_levels(affinity, start):
    """Hops from ``start`` to every node of a connected graph (as
    ``csgraph.dijkstra(affinity, indices=start, unweighted=True)``, as integers).

    The depths in SciPy's breadth-first tree, found by pointer jumping (each
    pass doubles the span of the jumps): on a 10-NN graph of 10,000 points
    0.6 ms, where the unweighted Dijkstra search took 1.4 ms.
    """
    _, parents = csgraph.breadth_first_order(affinity, start, directed=True)
    levels = (parents >= 0).astype(np.intp)  # 1 per hop to the parent, 0 at the root
    parents = np.where(parents >= 0, parents, start)  # the root is its own parent
    while True:
        jumped = parents[parents]
        if np.array_equal(jumped, parents):
            return levels
        levels += levels[parents]
        parents = jumped


def _first_solver(affinity, k, solver):
    """The solver tried first: ``_resolve_solver``, and for "auto" no shift-invert
    where its LU factor would fill in (see ``ARPACK_MAX_BAND``)."""
    first = _resolve_solver(solver, affinity.shape[0], k)
    if solver == "auto" and first == "arpack" and _level_band(affinity) > ARPACK_MAX_BAND:
        return "amg"
    return first


def _solve_connected(affinity, k, *, solver, tol, rng):
    """Smallest ``k`` eigenpairs of a connected graph, with a fallback chain.

    Returns ``(eigenvalues, v, residual_norms, solver_used)`` with ``v = D^{-1/2} u``.
    """
    n = affinity.shape[0]
    laplacian, sqrt_degree = _normalized_laplacian(affinity)
    chain = [_first_solver(affinity, k, solver)]
    if solver == "auto" and chain[0] == "arpack":
        # a factorization that fails: amg before a dense solve (the band test keeps
        # the LU factor within about 2 * ARPACK_MAX_BAND entries per node)
        chain.append("amg")
    fallback_limits = {"arpack": ARPACK_FALLBACK_MAX_NODES, "dense": DENSE_FALLBACK_MAX_NODES}
    for fallback, limit in fallback_limits.items():
        if fallback not in chain and n <= limit:
            chain.append(fallback)
    errors = []
    for name in chain:
        try:
            with _blas_threads_for(name):
                solution = _SOLVER_FUNCS[name](laplacian, sqrt_degree, k, tol=tol, rng=rng)
        except (ArpackError, ArpackNoConvergence, RuntimeError, np.linalg.LinAlgError,
                linalg.LinAlgError, ValueError) as exc:
            errors.append(f"{name}: {exc}")
            continue
        if isinstance(solution, RitzPairs):
            u, lam, residual = solution.vectors, solution.values, solution.residuals
        else:
            u, lam, residual = _rayleigh_ritz(laplacian, solution)
            if name in ("lobpcg", "amg") and not _converged(residual, tol):
                errors.append(f"{name}: did not converge (residual {residual.max():.2e})")
                continue
        if u.shape[1] < k:  # dependent directions dropped by a block solver
            errors.append(f"{name}: found {u.shape[1]} of {k} eigenvectors")
            continue
        if errors:
            warnings.warn(
                f"solver {chain[0]!r} failed ({'; '.join(errors)}); used {name!r} instead. "
                f"Pass solver={name!r} to skip the failing solver.",
                SpectralWarning,
                stacklevel=4,
            )
        _divide_rows(u, sqrt_degree)
        return lam, u, residual, name
    raise RuntimeError("every eigensolver failed: " + "; ".join(errors))


def _divide_rows(u, scale):
    """``u /= scale[:, None]`` in place, row chunks in parallel."""
    map_chunks(u.shape[0], lambda a, b: np.divide(u[a:b], scale[a:b, None], out=u[a:b]))


def _blas_threads_for(solver):
    """One BLAS thread for "lobpcg", "amg" and "dense".

    The iterative solvers already use every core: their sweeps over tall blocks
    and their sparse products run chunks of rows in parallel threads (see
    ``_parallel``), each of which calls BLAS on a small chunk; more BLAS threads
    would only oversubscribe the cores. The dense solver works on at most
    ``DENSE_MAX_NODES`` rows, where several BLAS threads each wait for the
    slowest one, and on a busy machine that wait costs more than the work
    (measured on 2 shared cores: a 400-node dense solve 1.4 s instead of 0.01 s).
    """
    if solver not in ("lobpcg", "amg", "dense"):
        return nullcontext()
    return single_threaded_blas()


def _default_tol(n_nodes):
    if n_nodes <= DENSE_MAX_NODES:
        return TIGHT_TOL
    return SMALL_TOL if n_nodes < SMALL_TOL_MAX_NODES else ITERATIVE_TOL


def _amg_default_tol(n_nodes, ml):
    """``_default_tol``, but ``ITERATIVE_TOL`` for graphs of high-dimensional data
    (``_high_dimensional``) under ``SMALL_TOL_MAX_NODES`` nodes."""
    tol = _default_tol(n_nodes)
    return ITERATIVE_TOL if tol == SMALL_TOL and _high_dimensional(ml) else tol


def _high_dimensional(ml):
    """Whether the hierarchy's first prolongator is left unsmoothed: its aggregates
    each border many others, as in graphs of high-dimensional data (see
    ``_multigrid.UNSMOOTHED_MIN_DEGREE``)."""
    return ml.n_levels > 1 and not ml.levels[0].smoothed


def _converged(residual, tol):
    limit = 1e-3 if tol is None else max(100 * tol, 1e-3)
    return bool(np.all(residual <= limit))


def _rayleigh_ritz(laplacian, u):
    """Orthonormalize ``u``, diagonalize ``L_sym`` on its span, and report residuals."""
    q = _svqb(u)
    lq = laplacian @ q
    small = q.T @ lq
    lam, rot = np.linalg.eigh((small + small.T) / 2)
    u = q @ rot
    residual = np.linalg.norm(lq @ rot - u * lam, axis=0)
    return u, lam, residual


def _solve_dense(laplacian, sqrt_degree, k, *, tol, rng):
    dense = laplacian.tocsr().toarray()
    _, vectors = linalg.eigh(dense, subset_by_index=[0, k - 1])
    return vectors


def _solve_arpack(laplacian, sqrt_degree, k, *, tol, rng):
    n = laplacian.shape[0]
    v0 = rng.uniform(-1, 1, n)
    # L_sym is singular; shifting to -1e-3 keeps the LU nonsingular while the
    # wanted eigenvalues (near 0) stay the best separated after inversion.
    _, vectors = eigsh(
        laplacian.tocsr().tocsc(),
        k=k,
        sigma=-1e-3,
        which="LM",
        tol=0.0 if tol is None else tol,
        v0=v0,
        maxiter=max(1000, 20 * n),
    )
    return vectors


def _solve_lobpcg(
    laplacian, sqrt_degree, k, *, tol, rng, preconditioner=None, start=None, start_values=None,
    stacked_grams=None,
):
    """LOBPCG for the ``k - 1`` pairs after the trivial one, from random vectors or
    from ``start`` (which it may overwrite); ``start_values`` says that ``start``
    holds orthonormal Ritz vectors of ``L_sym`` with these values; ``stacked_grams``
    goes to :func:`lobpcg_smallest`."""
    n = laplacian.shape[0]
    trivial = (sqrt_degree / np.linalg.norm(sqrt_degree))[:, None]
    if k == 1:
        return trivial
    x = rng.standard_normal((n, k - 1)) if start is None else start
    # L_sym has norm <= 2, so an absolute residual tolerance is also a relative one
    values, vectors, residuals, _ = lobpcg_smallest(
        laplacian,
        x,
        M=preconditioner,
        Y=trivial,
        tol=_default_tol(n) if tol is None else tol,
        maxiter=1000 if preconditioner is None else FINE_MAXITER,
        ritz_values=start_values,
        overwrite_x=True,
        stacked_grams=stacked_grams,
    )
    if vectors.shape[1] < k - 1 or not _converged(residuals, tol):
        # lost directions or no convergence: let the caller's checks see it all
        return np.hstack([trivial, vectors])
    # the Ritz pairs are final: the trivial pair is exact, the rest are
    # orthonormal to it and diagonalize L_sym on their span
    trivial_residual = np.linalg.norm(laplacian @ trivial[:, 0])
    return RitzPairs(
        _hstack_rows([trivial, vectors]),
        np.concatenate([[0.0], values]),
        np.concatenate([[trivial_residual], residuals]),
    )


def _solve_amg(laplacian, sqrt_degree, k, *, tol, rng):
    n = laplacian.shape[0]
    # the shift makes the preconditioned operator definite; it is far below the
    # eigenvalues that matter and does not enter the eigenproblem itself
    ml = build_hierarchy(IdentityMinus(laplacian.S, 1.0 + 1e-8), sqrt_degree)
    if n > FINE_SOLVE_MAX_NODES and ml.n_levels > 1:
        values, vectors = _cascade(ml, k, tol=tol, rng=rng)
        del ml
        return RitzPairs(vectors, values, _residual_norms(laplacian, vectors, values))
    # the trivial pair is known exactly: the fine solve starts from the others,
    # which are already Ritz pairs of L_sym (see _cascade)
    if tol is None:
        tol = _amg_default_tol(n, ml)
    values, start = _cascade(ml, k, tol=tol, rng=rng, first=1)
    ml.release_setup()  # only the cycles are needed from here on
    # graphs of high-dimensional data of up to one chunk take separate Gram
    # products (see _parallel.gram): 10-NN graph of 10,000 points, 7 iterations,
    # 8 ms less. Elsewhere they would be as fast, but they change the last bits,
    # and so could change labels that this has no reason to change (with them in
    # every LOBPCG of up to one chunk, also on the cascade's levels: coins, k=26,
    # normalized cut 0.2893 -> 0.2905; a 24³ volume, 2 voxels)
    small_data_graph = n <= CHUNK_ROWS and _high_dimensional(ml)
    return _solve_lobpcg(
        laplacian, sqrt_degree, k, tol=tol, rng=rng, preconditioner=ml.vcycle, start=start,
        start_values=values if np.isfinite(values).all() else None,
        stacked_grams=False if small_data_graph else None,
    )


def _residual_norms(laplacian, vectors, values):
    """``||L u_j - lambda_j u_j||`` one column at a time (no extra block in memory)."""
    return np.array(
        [np.linalg.norm(laplacian @ vectors[:, j] - values[j] * vectors[:, j])
         for j in range(vectors.shape[1])]
    )


def _cascade(ml, k, *, tol, rng, first=0):
    """Eigenpairs solved level by level from the coarsest, interpolated to the finest.

    Returns ``(values, vectors)``: the Ritz values of the level above the finest
    and its Ritz vectors interpolated to the finest level, from pair ``first``
    on (the ones before are not interpolated). As that level's mass matrix is
    ``P^T P`` and its matrix the Galerkin projection, the interpolated vectors
    are exactly orthonormal Ritz vectors of the finest level's matrix, with these
    values (NaN where the coarsest level had too few nodes for ``k`` pairs).

    Level ``l`` has the Galerkin pencil ``(P^T A P) y = mu (P^T M P) y`` (the
    Rayleigh-Ritz projection of the fine problem onto its coarse space). The
    coarsest is solved densely; each finer level starts from the interpolated
    solution of the level below and runs a few preconditioned LOBPCG steps with
    the V-cycle that starts at that level.
    """
    levels = ml.levels
    top = _cascade_top(levels, k)
    masses = [None]
    for level in levels[:top]:
        previous = masses[-1]
        mass = level.RP if previous is None else spgemm(spgemm(level.R, previous), level.P)
        masses.append(sparse.csr_array(mass))
    coarse = levels[top].A.tocsr().toarray()
    want = min(k, coarse.shape[0])
    coarse_mass = None if masses[-1] is None else masses[-1].toarray()
    values, y = _smallest_dense_pairs(coarse, coarse_mass, want)
    if want < k:
        y = np.hstack([y, rng.standard_normal((y.shape[0], k - want))])
        values = np.concatenate([values, np.full(k - want, np.nan)])
    for i in range(top - 1, 0, -1):
        y = spmm(levels[i].P, y)
        values, y, _, _ = lobpcg_smallest(
            levels[i].A,
            y,
            B=masses[i],
            M=ml.cycle_from(i),
            tol=_default_tol(levels[0].A.shape[0]) if tol is None else tol,
            maxiter=50,
        )
    y, values = y[:, first:], values[first:]
    y = spmm(levels[0].P, y) if top > 0 else y
    # the coarse problems carry the hierarchy's tiny shift; it is not in L_sym
    shift = getattr(levels[0].A, "shift", 1.0) - 1.0
    return np.maximum(values - shift, 0.0), np.ascontiguousarray(y)


def _smallest_dense_pairs(matrix, mass, want):
    """The ``want`` smallest eigenpairs of the dense pencil ``(matrix, mass)``
    (``mass`` None: the identity).

    A diagonal mass matrix (``P^T P`` of a tentative prolongator, one aggregate
    per node: the hierarchies of graphs of high-dimensional data) is folded into
    a standard problem, ``D^-1/2 A D^-1/2 z = mu z`` with ``y = D^-1/2 z``: on
    the 335 nodes of the coarse level of a 10-NN graph of 10,000 points,
    3.8 ms instead of 6.1 ms for the generalized one, the same pairs to 1e-13.
    """
    subset = [0, want - 1]
    diagonal = None if mass is None else np.diag(mass)
    if mass is None or not (np.count_nonzero(mass) == diagonal.size and (diagonal > 0).all()):
        return linalg.eigh(matrix, mass, subset_by_index=subset)
    scale = 1.0 / np.sqrt(diagonal)
    values, z = linalg.eigh(matrix * scale[:, None] * scale[None, :], subset_by_index=subset)
    return values, z * scale[:, None]


#: The cascade's dense solve may move up to a level of at most this many nodes.
CASCADE_DENSE_MAX_NODES = 1000


def _cascade_top(levels, k):
    """The level the cascade solves densely: the coarsest, unless it has fewer
    than ``2 k`` nodes and the one above it is small enough for a dense solve.

    A level of ``c < k`` nodes holds only ``c`` independent vectors, and every
    finer level interpolated from it inherits that rank: the block solver then
    drops the dependent directions and returns fewer than ``k`` pairs. k-NN
    graphs of high-dimensional data coarsen that fast (measured: 20,000 nodes,
    then 674, then 9).
    """
    top = len(levels) - 1
    while (top > 0 and levels[top].A.shape[0] < 2 * k
           and levels[top - 1].A.shape[0] <= CASCADE_DENSE_MAX_NODES):
        top -= 1
    return top


_SOLVER_FUNCS = {
    "dense": _solve_dense,
    "arpack": _solve_arpack,
    "lobpcg": _solve_lobpcg,
    "amg": _solve_amg,
}

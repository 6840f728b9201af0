"""Algebraic multigrid for graph Laplacians, with block (multi-vector) cycles.

The eigensolver needs a preconditioner for ``A = L_sym + shift * I`` applied to
a block of ``k`` vectors at every iteration. pyamg's smoothed-aggregation
solver builds an excellent hierarchy but (a) spends most of its setup time in
block-sparse (BSR) bookkeeping and spectral-radius estimates drawn from the
global NumPy RNG, and (b) cycles one vector at a time. This module keeps
pyamg's aggregation (strength of connection and standard aggregation, both in
compiled code) and does the rest with plain CSR algebra:

- tentative prolongator: aggregates fitted to the near-null-space vector ``b``
  (``sqrt(degree)`` for the normalized Laplacian);
- one damped-Jacobi smoothing step of the prolongator, with the damping taken
  from the Gershgorin bound of ``D^{-1} A`` (no random numbers), except on
  levels where each aggregate borders many others (graphs of high-dimensional
  data, see ``UNSMOOTHED_MIN_DEGREE``);
- Galerkin coarse operators ``P^T A P``;
- a symmetric V-cycle (damped Jacobi before and after, a Cholesky solve on
  the coarsest level, whose matrix is nudged to be definite) applied to all
  columns of a block at once.

References
----------
.. [1] P. Vaněk, J. Mandel and M. Brezina, "Algebraic multigrid by smoothed
       aggregation for second and fourth order elliptic problems", Computing
       56, 1996. :doi:`10.1007/BF02238511`
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import LinearOperator

from ._parallel import map_chunks, spgemm, spmm

__all__ = ["Hierarchy", "build_hierarchy"]


class IdentityMinus:
    """The matrix ``shift * I - S`` for a symmetric non-negative ``S`` with no diagonal,
    kept in that form so that it is never stored as a second large CSR matrix.

    The normalized Laplacian plus a small shift is ``(1 + eps) I - D^-1/2 W D^-1/2``.
    """

    def __init__(self, S, shift):
        self.S = sparse.csr_array(S)
        self.shift = float(shift)
        self.shape = self.S.shape

    def __matmul__(self, other):
        if sparse.issparse(other):
            return self.shift * other - spgemm(self.S, other)
        other = np.ascontiguousarray(other, dtype=np.float64)
        shift = self.shift

        def finish(out, a, b):  # shift * other - S @ other, chunk by chunk
            np.negative(out, out=out)
            out += other[a:b] if shift == 1.0 else shift * other[a:b]

        return spmm(self.S, other, finish)

    def negated_offdiagonal(self):
        return self.S

    def diagonal(self):
        return np.full(self.shape[0], self.shift)

    def row_abs_sums(self):
        return self.shift + spmm(self.S, np.ones(self.shape[0], dtype=self.S.dtype))

    def galerkin(self, P, R, RP):
        """``R A P`` given ``R = P^T`` and ``RP = R P``."""
        return sparse.csr_array(self.shift * RP - spgemm(R, spgemm(self.S, P)))

    def tocsr(self):
        return sparse.csr_array(self.shift * sparse.identity(self.shape[0], format="csr") - self.S)


class _Explicit:
    """A CSR matrix behind the same small interface as :class:`IdentityMinus`."""

    def __init__(self, A):
        self.A = sparse.csr_array(A)
        self.shape = self.A.shape

    def __matmul__(self, other):
        if sparse.issparse(other):
            return self.A @ other
        return spmm(self.A, np.ascontiguousarray(other, dtype=np.float64))

    def negated_offdiagonal(self):
        return -self.A

    def diagonal(self):
        return self.A.diagonal()

    def row_abs_sums(self):
        return np.asarray(abs(self.A).sum(axis=1)).ravel()

    def galerkin(self, P, R, RP):
        """``R A P`` given ``R = P^T``."""
        return spgemm(R, spgemm(self.A, P))

    def tocsr(self):
        return self.A


class Level:
    """One level: its operator (float64), the prolongator from the next coarser
    level, damped-Jacobi weights, and the same matrices in the cycles' precision,
    made on first use (so levels that are never cycled on cost no copy)."""

    def __init__(self, A, P, smoother, dtype, R=None, RP=None, smoothed=False):
        self.A = A  # IdentityMinus or _Explicit
        self.P = P  # float64 CSR, or None on the coarsest level
        self.smoothed = smoothed  # whether P is the smoothed (not the tentative) one
        self.R = R  # P^T as CSR
        self.RP = RP  # P^T P on the finest level (the next one's mass matrix), else None
        self.smoother = smoother.astype(dtype)
        self.uniform = bool(self.smoother.size) and bool(np.all(self.smoother == self.smoother[0]))
        self.dtype = dtype
        self._cycle_matrices = None

    @property
    def cycle_matrices(self):
        """``(K, shift, P, R)`` as CSR in the cycles' precision.

        The level's operator is ``A = K`` when ``shift`` is None, and
        ``A = shift * I - K`` otherwise (an :class:`IdentityMinus` keeps its form:
        no explicit copy with a diagonal is made).
        """
        if self._cycle_matrices is None:
            def cast(matrix):  # new values, the same index arrays
                if matrix is None:
                    return None
                matrix = sparse.csr_array(matrix)
                return sparse.csr_array(
                    (matrix.data.astype(self.dtype), matrix.indices, matrix.indptr),
                    shape=matrix.shape,
                )

            if isinstance(self.A, IdentityMinus):
                operator, shift = cast(self.A.S), self.A.shift
            else:
                operator, shift = cast(self.A.tocsr()), None
            self._cycle_matrices = (operator, shift, cast(self.P), cast(self.R))
        return self._cycle_matrices


class Hierarchy:
    """A multigrid hierarchy with block V-cycles.

    Examples
    --------
    >>> from scipy import sparse
    >>> n = 2000
    >>> A = sparse.diags([-np.ones(n - 1), 2.01 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1])
    >>> ml = build_hierarchy(A.tocsr(), np.ones(n), max_coarse=50)
    >>> ml.n_levels > 1
    True
    >>> x = ml.vcycle(np.ones((n, 3)))
    >>> x.shape
    (2000, 3)
    """

    def __init__(self, levels, coarse_solve, dtype=np.float32):
        self.levels = levels
        self.coarse_solve = coarse_solve
        self.dtype = np.dtype(dtype)

    @property
    def n_levels(self):
        return len(self.levels)

    def __repr__(self):
        rows = [f"{type(self).__name__} with {self.n_levels} levels"]
        for i, level in enumerate(self.levels):
            rows.append(f"  level {i}: {level.A.shape[0]} unknowns")
        return "\n".join(rows)

    def release_setup(self):
        """Free the float64 prolongators and mass matrices, keeping only what the
        cycles use (made now, if they were not yet). Call it when the setup's
        matrices are no longer needed: they are as large as the cycles' own."""
        for level in self.levels:
            level.cycle_matrices  # noqa: B018 - made before their sources go
            level.P = level.R = level.RP = None

    def cycle_from(self, start):
        """The V-cycle that starts at level ``start`` (a preconditioner for its ``A``)."""

        def apply(b):
            b = np.asarray(b)
            block = b[:, None] if b.ndim == 1 else b
            x = self._cycle(start, np.ascontiguousarray(block, dtype=self.dtype), np.float64)
            return x.reshape(b.shape)

        return apply

    def vcycle(self, b):
        """Apply one symmetric V-cycle (an approximate inverse of ``A``) to ``b``.

        The cycle runs in the hierarchy's dtype (float32 by default: a
        preconditioner needs no more, and it halves the memory traffic); the
        result is returned in float64.
        """
        return self.cycle_from(0)(b)

    def _cycle(self, i, b, out_dtype=None):
        """One V-cycle from level ``i``; the result in ``out_dtype`` (default ``b``'s)."""
        if i == len(self.levels) - 1:
            return self.coarse_solve(b).astype(out_dtype or b.dtype, copy=False)
        level = self.levels[i]
        K, shift, P, R = level.cycle_matrices
        weights = level.smoother[:, None]
        if shift is not None and level.uniform:
            # A = shift I - K with one Jacobi weight w (an IdentityMinus): the first
            # sweep x = w b needs no array of its own, as b - A x = (1 - w shift) b + w K b
            w = level.smoother[0]

            def first_residual(out, s, t):
                out *= w
                out += (1 - w * shift) * b[s:t]

            def first_correct(out, s, t):  # x + P e with x = w b
                out += w * b[s:t]

            coarse = self._cycle(i + 1, spmm(R, spmm(K, b, first_residual)))
            x = spmm(P, coarse, first_correct)
        else:
            x = np.empty_like(b)
            map_chunks(b.shape[0], lambda s, t: np.multiply(weights[s:t], b[s:t], out=x[s:t]))

            def residual(out, s, t):  # out = K x  ->  b - A x
                if shift is None:
                    np.subtract(b[s:t], out, out=out)
                else:  # A x = shift x - K x
                    out += b[s:t]
                    out -= shift * x[s:t]

            def correct(out, s, t):  # x + P e
                out += x[s:t]

            x = spmm(P, self._cycle(i + 1, spmm(R, spmm(K, x, residual))), correct)

        def residual_of(out, s, t):  # out = K x  ->  b - A x, for the last sweep
            if shift is None:
                np.subtract(b[s:t], out, out=out)
            else:
                out += b[s:t]
                out -= shift * x[s:t]

        result = None if out_dtype in (None, b.dtype) else np.empty(b.shape, out_dtype)

        def smooth(out, s, t):  # out = K x  ->  x + w (b - A x)
            residual_of(out, s, t)
            out *= weights[s:t]
            out += x[s:t]
            if result is not None:  # converted while the chunk is in cache
                result[s:t] = out

        x = spmm(K, x, smooth)
        return x if result is None else result

    def aspreconditioner(self):
        """The V-cycle as a :class:`scipy.sparse.linalg.LinearOperator` (blocks at once)."""
        n = self.levels[0].A.shape[0]
        return LinearOperator(
            (n, n), matvec=self.vcycle, matmat=self.vcycle, rmatvec=self.vcycle, dtype=np.float64
        )


def build_hierarchy(A, b, *, theta=0.1, max_coarse=400, max_levels=25, dtype=np.float32):
    """Build a smoothed-aggregation hierarchy for a symmetric M-matrix ``A``.

    Parameters
    ----------
    A : (n, n) scipy.sparse.csr_array or IdentityMinus
        Symmetric positive (semi-)definite matrix with non-positive off-diagonal.
    b : (n,) ndarray
        Near-null-space vector (``A b`` small), fitted exactly by the coarse spaces.
    theta : float, optional
        Strength-of-connection threshold: an edge is strong when its weight is at
        least ``theta`` times the largest in its row, so weak edges across image
        boundaries are not aggregated.
    max_coarse : int, optional
        Stop coarsening at this many unknowns.
    max_levels : int, optional
        Upper bound on the number of levels.
    dtype : numpy dtype, optional
        Precision of the cycles (the setup is always in float64).

    Returns
    -------
    Hierarchy
    """
    from pyamg.aggregation import standard_aggregation

    if not isinstance(A, IdentityMinus):
        A = _Explicit(A)
    b = np.asarray(b, dtype=np.float64)
    dtype = np.dtype(dtype)
    levels = []
    while A.shape[0] > max_coarse and len(levels) < max_levels - 1:
        strength = _strong_connections(
            A.negated_offdiagonal(), theta, plain=isinstance(A, IdentityMinus)
        )
        aggregates = standard_aggregation(strength)[0].tocsr()
        del strength
        n_coarse = aggregates.shape[1]
        if n_coarse == 0 or n_coarse >= 0.9 * A.shape[0]:
            break
        P, b_coarse = _tentative_prolongator(aggregates, b)
        smoothed = _aggregate_degree(A.negated_offdiagonal(), aggregates) < UNSMOOTHED_MIN_DEGREE
        if smoothed:
            smoother = _jacobi_weights(A)
            P = _smooth_prolongator(A, P, smoother)
        elif isinstance(A, IdentityMinus):
            smoother = _jacobi_weights(A, _largest_eigenvalue_bound(A))
        else:
            smoother = _jacobi_weights(A)
        R = sparse.csr_array(P.T)
        # P^T P: the next level's mass matrix, needed where this level's is I (the
        # finest) and by the Galerkin product of an IdentityMinus
        RP = spgemm(R, P) if not levels or isinstance(A, IdentityMinus) else None
        levels.append(Level(A, P, smoother, dtype, R=R, RP=RP, smoothed=smoothed))
        coarse = A.galerkin(P, R, RP)
        coarse.sort_indices()
        A, b = _Explicit(coarse), b_coarse
    dense = A.tocsr().toarray()
    dense = (dense + dense.T) / 2
    levels.append(Level(A, None, _jacobi_weights(A), dtype))
    return Hierarchy(levels, _coarse_solver(dense), dtype=dtype)


#: Levels whose aggregates each touch this many aggregates or more (on average,
#: itself included) keep the tentative prolongator: smoothing it would widen each
#: coarse basis function over all those neighbours and make the Galerkin product
#: nearly dense. Measured neighbours per aggregate on the first level: 2-D images
#: and 2-D point sets 6.6-9, 3-D voxel grids 11-16; 10-NN graphs of 10-D blobs
#: 14 (3,000 points, 108 aggregates), 20 (5,000), 34 (10,000) and 51 (20,000),
#: of a 64-D mixture 38 (20,000). Smoothed, the setup of the 10-D graphs took
#: 0.05 s (10,000), 0.11 s (20,000) and 0.5 s (50,000), most of it in the
#: Galerkin product, against 0.03, 0.03 and 0.06 s unsmoothed, and saved one
#: LOBPCG iteration (9 against 10 to 1e-5, the same labels); on the 64-D
#: mixture of 100,000 points it took 4.7 s against 0.2 s, with the same
#: iterations and labels.
UNSMOOTHED_MIN_DEGREE = 24
#: ``_aggregate_degree`` looks at about this many aggregates.
DEGREE_SAMPLE = 256


def _aggregate_degree(C, aggregates):
    """Mean number of aggregates (itself included) that an aggregate's nodes link
    to through ``C``, over an evenly strided sample of ``DEGREE_SAMPLE`` aggregates.

    ``aggregates`` is the CSR aggregation matrix (nodes x aggregates, at most one
    entry per row; a node in none is skipped). The cost is that of the sampled
    aggregates' rows, plus one pass over the nodes.
    """
    C = sparse.csr_array(C)
    n_coarse = aggregates.shape[1]
    if n_coarse == 0:
        return 0.0
    if aggregates.nnz == aggregates.shape[0]:  # every node in one (no copy)
        of = aggregates.indices
        step = max(1, n_coarse // DEGREE_SAMPLE)
        nodes = np.flatnonzero(of % step == 0) if step > 1 else np.arange(of.size)
    else:
        of = np.full(aggregates.shape[0], -1, dtype=aggregates.indices.dtype)
        rows_with = np.flatnonzero(np.diff(aggregates.indptr))
        of[rows_with] = aggregates.indices[aggregates.indptr[rows_with]]
        step = max(1, n_coarse // DEGREE_SAMPLE)
        nodes = np.flatnonzero((of >= 0) & (of % step == 0))
    if nodes.size == 0:
        return 0.0
    if nodes.size == C.shape[0]:  # every node: all of C's entries, in order
        lengths = np.diff(C.indptr)
        targets = of[C.indices[: C.indptr[-1]]].astype(np.int64)
    else:
        starts, stops = C.indptr[nodes], C.indptr[nodes + 1]
        lengths = stops - starts
        take = np.repeat(stops - lengths.cumsum(), lengths) + np.arange(lengths.sum())
        targets = of[C.indices[take]].astype(np.int64)
    own = of[nodes].astype(np.int64)
    sources = np.repeat(own, lengths)
    linked = targets >= 0
    n_rows = -(-n_coarse // step)  # the sampled aggregates, numbered by index // step
    if n_rows * n_coarse <= DEGREE_TABLE_MAX:
        # a table of the sampled aggregates against all: on a 10-NN graph of
        # 10,000 points (335 aggregates, all sampled) 0.3 ms instead of 8 ms for
        # np.unique
        table = np.zeros(n_rows * n_coarse, dtype=bool)
        if step > 1:
            sources //= step
        table[(sources * n_coarse + targets)[linked]] = True
        table[(own // step) * n_coarse + own] = True
        table = table.reshape(n_rows, n_coarse)
        return int(np.count_nonzero(table)) / int(np.count_nonzero(table.any(axis=1)))
    pairs = np.concatenate([sources * n_coarse + targets, own * (n_coarse + 1)])
    pairs = pairs[np.concatenate([linked, np.ones(nodes.size, dtype=bool)])]
    n_sampled = np.unique(own).size
    return np.unique(pairs).size / n_sampled


#: ``_aggregate_degree`` counts distinct pairs in a table of at most this many
#: entries (bytes), with ``np.unique`` above.
DEGREE_TABLE_MAX = 1 << 22


def _strong_connections(C, theta, plain=False):
    """The pattern of pyamg's ``classical_strength_of_connection(C, theta)``.

    Entry ``(i, j)`` is strong when ``|c_ij| >= theta * max_{l != i} |c_il|``; the
    diagonal is always kept, and zero entries never. Only the pattern is built
    (``standard_aggregation`` reads no values), without the copies of ``C``
    that pyamg's version makes, and rows are processed in parallel chunks.
    ``plain`` says that ``C`` has no diagonal and no negative entries (the
    off-diagonal of an :class:`IdentityMinus`), which skips their handling.
    """
    C = sparse.csr_array(C)
    indptr, indices, data = C.indptr, C.indices, C.data
    tiny = np.finfo(np.float64).tiny  # pyamg's starting maximum

    def work(a, b):
        lo, hi = indptr[a], indptr[b]
        starts = indptr[a:b] - lo
        lengths = np.diff(indptr[a : b + 1])
        if plain:
            magnitude, has_diagonal = data[lo:hi], False
        else:
            magnitude = np.abs(data[lo:hi])
            diagonal = indices[lo:hi] == np.repeat(np.arange(a, b, dtype=indices.dtype), lengths)
            has_diagonal = diagonal.any()
        off = np.where(diagonal, 0.0, magnitude) if has_diagonal else magnitude
        largest = np.full(b - a, tiny)
        filled = lengths > 0
        if off.size:
            largest[filled] = np.maximum(tiny, np.maximum.reduceat(off, starts[filled]))
        keep = magnitude >= np.repeat(theta * largest, lengths)
        if has_diagonal:
            keep |= diagonal
        keep &= magnitude != 0
        counts = np.zeros(b - a, dtype=indptr.dtype)
        if keep.size:
            counts[filled] = np.add.reduceat(keep, starts[filled], dtype=indptr.dtype)
        return keep, counts

    parts = map_chunks(C.shape[0], work)
    keep = np.concatenate([part[0] for part in parts])
    new_indptr = np.zeros(C.shape[0] + 1, dtype=indptr.dtype)
    np.cumsum(np.concatenate([part[1] for part in parts]), out=new_indptr[1:])
    kept = indices[keep]
    return sparse.csr_array((np.ones(kept.size, dtype=np.int8), kept, new_indptr), shape=C.shape)


def _coarse_solver(dense):
    """Cholesky solve on the coarsest level, or a pseudo-inverse if it is singular."""
    nudge = 1e-10 * max(float(np.trace(dense)) / dense.shape[0], 1e-300)
    try:
        factor = linalg.cho_factor(dense + nudge * np.eye(dense.shape[0]))
    except linalg.LinAlgError:
        inverse = linalg.pinvh(dense)
        return lambda b: inverse @ b
    return lambda b: linalg.cho_solve(factor, b)


def _tentative_prolongator(aggregates, b):
    """Columns = aggregates, entries = ``b`` normalized per aggregate.

    ``aggregates`` is the CSR aggregation matrix (at most one entry per row);
    the prolongator has its pattern.
    """
    indptr, columns = aggregates.indptr, aggregates.indices
    rows = np.repeat(np.arange(aggregates.shape[0], dtype=columns.dtype), np.diff(indptr))
    values = b[rows]
    norms = np.sqrt(np.bincount(columns, values * values, minlength=aggregates.shape[1]))
    norms[norms == 0] = 1.0
    values /= norms[columns]
    P = sparse.csr_array((values, columns, indptr), shape=aggregates.shape)
    return P, norms


def _jacobi_weights(A, largest=None):
    """``omega / a_ii`` with omega = 4 / (3 rho), rho the Gershgorin bound of D^-1 A,
    or ``largest / shift`` where ``largest`` bounds the eigenvalues of an
    :class:`IdentityMinus` (uniform diagonal ``shift``) and is the smaller."""
    diagonal = A.diagonal()
    diagonal = np.where(diagonal > 0, diagonal, 1.0)
    row_abs = A.row_abs_sums()
    rho = float(np.max(row_abs / diagonal)) if row_abs.size else 1.0
    if largest is not None:
        rho = min(rho, largest / A.shift)
    omega = 4.0 / (3.0 * max(rho, 1e-12))
    return omega / diagonal


#: Lanczos steps of ``_largest_eigenvalue_bound``.
LANCZOS_STEPS = 10


def _largest_eigenvalue_bound(A, steps=LANCZOS_STEPS):
    """An estimate of the largest eigenvalue of a symmetric ``A``: the largest Ritz
    value of a few Lanczos steps plus its residual norm. (An estimate up to a
    third too low still leaves the damped Jacobi smoother convergent:
    ``4 / 3 * 1.5 < 2``.)

    The Jacobi weight of the levels whose prolongator stays unsmoothed (graphs of
    high-dimensional data, see ``UNSMOOTHED_MIN_DEGREE``) comes from it instead of
    from the Gershgorin bound, which is loose there: on the 10-NN graph of 10,000
    points in 10-D the bound is 2.46 and the largest eigenvalue 1.48. With the
    tighter weight the fine LOBPCG solve took 7 iterations instead of 8 on 10-D
    blobs of 10,000 and 20,000 points and 5 instead of 7 on a 64-D mixture of
    20,000 (the same labels); the 10 steps cost 1.5 ms at 10,000 nodes. The
    estimates were within 2% of the largest eigenvalues, either side (1.43-1.49
    on those graphs, digits and moons). The start is deterministic (no random numbers): a cosine
    of golden-angle steps, which has weight on every eigenvector of a generic
    graph. (Smoothed levels keep the Gershgorin bound, which also enters their
    prolongator: with the estimate there too, digits, 1,797 x 64, took 11
    iterations instead of 17, but every image's hierarchy would change.)
    """
    n = A.shape[0]
    if isinstance(A, IdentityMinus):  # SciPy's product of one vector: less overhead
        S, shift = A.S, A.shift

        def product(v):
            w = S @ v
            np.negative(w, out=w)
            w += shift * v
            return w
    else:
        product = A.__matmul__
    v = np.cos(np.arange(n) * 2.399963229728653)
    v /= np.linalg.norm(v)
    previous, beta = np.zeros(n), 0.0
    alphas, betas = [], []
    for _ in range(max(1, min(steps, n))):
        w = product(v)
        alpha = float(v @ w)
        w -= alpha * v
        w -= beta * previous
        alphas.append(alpha)
        beta = float(np.linalg.norm(w))
        betas.append(beta)
        if beta <= 1e-12 * abs(alpha):
            break
        previous, v = v, w / beta
    values, vectors = linalg.eigh_tridiagonal(np.array(alphas), np.array(betas[:-1]))
    return float(values[-1] + abs(betas[-1] * vectors[-1, -1]))


def _smooth_prolongator(A, P, smoother):
    """``(I - omega D^-1 A) P`` in CSR."""
    if isinstance(A, IdentityMinus):
        # (I - w (shift I - S)) P = (1 - w shift) P + w S P, w = omega / shift constant
        w = smoother[0]
        SP = spgemm(A.S, P)
        SP.data *= w
        return sparse.csr_array(SP + (1.0 - w * A.shift) * P)
    AP = spgemm(A.A, P)
    AP.data *= np.repeat(smoother, np.diff(AP.indptr))  # rows scaled by omega / a_ii
    return sparse.csr_array(P - AP)

"""A lean block LOBPCG for the few smallest eigenpairs of a large sparse pencil.

SciPy's :func:`scipy.sparse.linalg.lobpcg` is general (complex data, many
safeguards) and spends most of its time in Python-level bookkeeping on tall,
thin blocks; with a multigrid preconditioner on a million-node graph it is
several times slower than the matrix work it orchestrates. This version does
only what the normalized-cut problem needs: a real symmetric pencil
``A x = theta B x`` with ``B`` symmetric positive definite (or the identity),
a block preconditioner, hard constraints (vectors known exactly, such as the
trivial ``sqrt(degree)`` eigenvector), and every inner product as one BLAS
call on contiguous blocks. Bases are ``B``-orthonormalized by SVQB
(Stathopoulos & Wu 2002), which works from the Gram matrix and drops
directions that have become dependent.

References
----------
.. [1] A. V. Knyazev, "Toward the optimal preconditioned eigensolver: LOBPCG",
       SIAM J. Sci. Comput. 23(2), 2001. :doi:`10.1137/S1064827500366124`
.. [2] A. Stathopoulos and K. Wu, "A block orthogonalization procedure with
       constant synchronization requirements", SIAM J. Sci. Comput. 23(6), 2002.
       :doi:`10.1137/S1064827500370883`
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, sparse

from ._parallel import gram, map_chunks, spmm

__all__ = ["lobpcg_smallest"]


def lobpcg_smallest(
    A, X, *, B=None, M=None, Y=None, tol=1e-6, maxiter=200, n_wanted=None, callback=None,
    ritz_values=None, overwrite_x=False, stacked_grams=None,
):
    """Smallest eigenpairs of a symmetric pencil by block LOBPCG.

    Parameters
    ----------
    A : (n, n) sparse matrix or LinearOperator
        Symmetric matrix; only ``A @ block`` is used.
    X : (n, m) ndarray
        Starting block (``m`` wanted eigenpairs).
    B : (n, n) sparse matrix, optional
        Symmetric positive definite mass matrix (default: the identity).
    M : callable or LinearOperator, optional
        Symmetric positive definite preconditioner, applied to blocks.
    Y : (n, c) ndarray, optional
        ``B``-orthonormal constraint vectors: iterates stay ``B``-orthogonal to them.
    tol : float, optional
        Stop when every residual norm ``||A x - theta B x||`` is below ``tol``.
    maxiter : int, optional
        Maximum number of iterations.
    n_wanted : int, optional
        Only the first ``n_wanted`` eigenpairs must converge; the remaining
        columns of ``X`` are guard vectors that speed up convergence.
    callback : callable, optional
        Called as ``callback(iteration, residual_norms)`` after each iteration.
    ritz_values : (m,) ndarray, optional
        Says that ``X`` already holds ``B``-orthonormal Ritz vectors of the
        pencil, with these Ritz values (``X.T A X = diag(ritz_values)``), such as
        the interpolated solution of a Galerkin coarse problem; the first
        Rayleigh-Ritz step is then skipped. Components along ``Y`` are still
        removed (they do not change ``X.T A X`` when ``A Y = 0``).
    overwrite_x : bool, optional
        Whether ``X`` may be overwritten (it is updated in place, saving a copy,
        when it is a C-ordered float64 array).
    stacked_grams : bool, optional
        ``stacked`` of the Rayleigh-Ritz step's :func:`_parallel.gram` (default:
        its own choice).

    Returns
    -------
    theta : (m,) ndarray
        Ritz values, ascending.
    X : (n, m) ndarray
        ``B``-orthonormal Ritz vectors.
    residual_norms : (m,) ndarray
    n_iter : int

    Notes
    -----
    Each iteration makes four sweeps over the tall blocks besides the products
    with ``A``, ``B`` and ``M``, each over chunks of rows in parallel (see
    ``_parallel``): one for the Gram matrices of the preconditioned residuals
    against ``Y`` and ``X`` and one that removes those components; one for all
    Gram matrices of the Rayleigh-Ritz step; and one that forms the new ``X``,
    ``P``, their products and the next residuals.

    Examples
    --------
    >>> from scipy import sparse
    >>> n = 200
    >>> A = sparse.diags([np.arange(1.0, n + 1)], [0]).tocsr()
    >>> X0 = np.random.default_rng(0).standard_normal((n, 3))
    >>> theta, X, res, it = lobpcg_smallest(A, X0, tol=1e-8, maxiter=500)
    >>> np.round(theta, 6)
    array([1., 2., 3.])
    """
    n, m = X.shape
    n_wanted = m if n_wanted is None else n_wanted
    apply_m = _as_block_function(M)
    apply_b = None if B is None else _as_product(B)
    BY = None if Y is None or B is None else apply_b(Y)
    if Y is not None and BY is None:
        BY = Y
    if overwrite_x:
        X = np.require(X, dtype=np.float64, requirements=["C", "W"])
    else:
        X = np.array(X, dtype=np.float64, order="C")
    if Y is not None:
        X = _orthogonalize(X, [(Y, BY)])[0]
    BX = X if B is None else apply_b(X)
    apply_a = _as_product(A)
    AX = apply_a(X)
    if ritz_values is None:
        # Rayleigh-Ritz on the span of X: B-orthonormalize (SVQB, dropping
        # dependent starting vectors) and diagonalize in one small problem
        g_b, g_a = gram([(X, BX), (X, AX)], n)
        Z = _svqb_transform_from_gram(g_b)
        theta, C = _small_eig(Z.T @ g_a @ Z)
        C = Z @ C
        m = C.shape[1]
        X, AX = _transform(n, [X, AX], C)
        BX = X if B is None else _transform(n, [BX], C)[0]
    else:
        theta = np.array(ritz_values, dtype=np.float64)
    # the residuals only feed the preconditioner, which works in float32 (the
    # norms are taken in float64 first): kept in float32, they need no cast
    r_dtype = np.float64 if apply_m is None else np.float32
    R, residual_norms = _residuals(AX, BX, theta, r_dtype)
    P = AP = BP = None
    n_iter = 0
    for n_iter in range(1, maxiter + 1):
        if callback is not None:
            callback(n_iter, residual_norms)
        if np.all(residual_norms[:n_wanted] <= tol):
            break
        active = residual_norms > tol
        T = R if active.all() else R[:, active]
        del R
        if apply_m is not None:
            T = np.ascontiguousarray(apply_m(T), dtype=np.float64)
        # B-orthogonal to Y and X (so X.T B T = 0 is known below)
        T, norms = _orthogonalize(T, [(V, BV) for V, BV in ((Y, BY), (X, BX)) if V is not None])
        if not (norms > 0).all():
            T = np.ascontiguousarray(T[:, norms > 0])
        if T.shape[1] == 0:
            R = None
            break
        AT = apply_a(T)
        BT = T if B is None else apply_b(T)
        t = T.shape[1]
        # the Gram matrices of [X, T, P] with A and B, in one sweep; X.T A X =
        # diag(theta), X.T B X = I and X.T B T = 0 are known
        if P is None:
            pairs = [(X, AT), (T, AT), (T, BT)]
            g_xat, g_tat, g_tbt = gram(pairs, n)
            gram_a = np.block([[np.diag(theta), g_xat], [g_xat.T, g_tat]])
            gram_b = np.block([[np.eye(m), np.zeros((m, t))], [np.zeros((t, m)), g_tbt]])
        else:
            pairs = [(X, AT), (X, AP), (T, AT), (T, AP), (P, AP),
                     (T, BT), (X, BP), (T, BP), (P, BP)]
            g_xat, g_xap, g_tat, g_tap, g_pap, g_tbt, g_xbp, g_tbp, g_pbp = gram(
                pairs, n, stacked=stacked_grams)
            gram_a = np.block([
                [np.diag(theta), g_xat, g_xap],
                [g_xat.T, g_tat, g_tap],
                [g_xap.T, g_tap.T, g_pap],
            ])
            gram_b = np.block([
                [np.eye(m), np.zeros((m, t)), g_xbp],
                [np.zeros((t, m)), g_tbt, g_tbp],
                [g_xbp.T, g_tbp.T, g_pbp],
            ])
        Z = _svqb_transform_from_gram(gram_b)
        theta_all, C_all = _small_eig(Z.T @ gram_a @ Z)
        coefficients = Z @ C_all[:, :m]  # in terms of the columns of [X, T, P]
        theta = theta_all[:m]
        c_x, c_t, c_p = coefficients[:m], coefficients[m : m + t], coefficients[m + t :]
        X, AX, BX, P, AP, BP, R, residual_norms = _update(
            theta, (X, AX, BX), (T, AT, BT), (P, AP, BP), c_x, c_t, c_p, same_b=B is None,
            r_dtype=r_dtype,
        )
        del T, AT, BT
    if R is None:
        residual_norms = _residuals(AX, BX, theta)[1]
    return theta, X, residual_norms, n_iter


def _residuals(AX, BX, theta, dtype=np.float64):
    """``R = AX - BX diag(theta)`` (stored in ``dtype``) and its column norms (in
    float64), in one sweep."""
    n = AX.shape[0]
    R = np.empty(AX.shape, dtype=dtype)

    def work(a, b):
        r = BX[a:b] * theta
        np.subtract(AX[a:b], r, out=r)
        R[a:b] = r
        return np.einsum("ij,ij->j", r, r)

    return R, np.sqrt(np.sum(map_chunks(n, work), axis=0))


def _orthogonalize(T, bases):
    """Remove from ``T`` (in place) its components along ``B``-orthonormal bases.

    ``bases`` holds pairs ``(V, BV)``; returns ``(T, column norms of the result)``.
    """
    n = T.shape[0]
    coefficients = gram([(BV, T) for _, BV in bases], n)

    def work(a, b):
        t = T[a:b]
        for (V, _), c in zip(bases, coefficients, strict=True):
            t -= V[a:b] @ c
        return np.einsum("ij,ij->j", t, t)

    return T, np.sqrt(np.sum(map_chunks(n, work), axis=0))


def _update(theta, xs, ts, ps, c_x, c_t, c_p, *, same_b, r_dtype=np.float64):
    """One sweep: ``P = T c_t + P c_p``, ``X = X c_x + P`` (and their ``A``, ``B``
    products), then the residuals of the new ``X``.

    ``X`` and its products are updated in place (row by row it only needs its
    own old rows); ``P`` too, except on the first iteration where there is none.
    """
    X, AX, BX = xs
    T, AT, BT = ts
    P, AP, BP = ps
    n, m = X.shape
    first = P is None
    if first:
        P, AP = np.empty((n, m)), np.empty((n, m))
        BP = P if same_b else np.empty((n, m))
    R = np.empty((n, m), dtype=r_dtype)

    def new_direction(old, t, a, b):
        out = t[a:b] @ c_t
        if not first:
            out += old[a:b] @ c_p
        return out

    def work(a, b):
        p = new_direction(P, T, a, b)
        ap = new_direction(AP, AT, a, b)
        x = X[a:b] @ c_x
        x += p
        ax = AX[a:b] @ c_x
        ax += ap
        P[a:b], AP[a:b], X[a:b], AX[a:b] = p, ap, x, ax
        if same_b:
            bx = x
        else:
            bp = new_direction(BP, BT, a, b)
            bx = BX[a:b] @ c_x
            bx += bp
            BP[a:b], BX[a:b] = bp, bx
        r = bx * theta
        np.subtract(ax, r, out=r)
        R[a:b] = r
        return np.einsum("ij,ij->j", r, r)

    norms = np.sqrt(np.sum(map_chunks(n, work), axis=0))
    return X, AX, (X if same_b else BX), P, AP, (P if same_b else BP), R, norms


def _transform(n, blocks, C):
    """``[V @ C for V in blocks]`` for tall blocks, in one sweep, rows in parallel."""
    outs = [np.empty((n, C.shape[1])) for _ in blocks]

    def work(a, b):
        for block, out in zip(blocks, outs, strict=True):
            np.matmul(block[a:b], C, out=out[a:b])

    map_chunks(n, work)
    return outs


def _as_product(matrix):
    """``V -> matrix @ V``, with CSR matrices multiplied by rows in parallel."""
    if sparse.issparse(matrix) and matrix.format == "csr" and matrix.dtype == np.float64:
        return lambda V: spmm(matrix, V)
    return lambda V: matrix @ V


def _as_block_function(M):
    if M is None:
        return None
    if callable(M) and not hasattr(M, "matmat"):
        return M
    return lambda block: M @ block


def _small_eig(matrix):
    return linalg.eigh((matrix + matrix.T) / 2)


def _svqb_transform(V, BV=None, drop=1e-12):
    """``Z`` such that ``V @ Z`` is ``B``-orthonormal (dependent directions dropped)."""
    return _svqb_transform_from_gram(V.T @ (V if BV is None else BV), drop)


def _svqb_transform_from_gram(matrix, drop=1e-12):
    """``Z`` with ``Z.T @ matrix @ Z = I`` on the well-conditioned part of a Gram matrix."""
    scale = np.sqrt(np.maximum(np.abs(np.diag(matrix)), np.finfo(float).tiny))
    scaled = matrix / scale[:, None] / scale[None, :]
    values, vectors = linalg.eigh((scaled + scaled.T) / 2)
    keep = values > drop * values.max()
    return (vectors[:, keep] / np.sqrt(values[keep])) / scale[:, None]


def _svqb(V):
    """Orthonormalize the columns of ``V`` (dropping dependent ones)."""
    if V.shape[1] == 0:
        return V
    Q = V @ _svqb_transform(V)
    # one more pass restores orthogonality lost to rounding
    return Q @ _svqb_transform(Q)

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
from scipy import linalg

__all__ = ["lobpcg_smallest"]


def lobpcg_smallest(
    A, X, *, B=None, M=None, Y=None, tol=1e-6, maxiter=200, n_wanted=None, callback=None
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

    Returns
    -------
    theta : (m,) ndarray
        Ritz values, ascending.
    X : (n, m) ndarray
        ``B``-orthonormal Ritz vectors.
    residual_norms : (m,) ndarray
    n_iter : int

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
    m = X.shape[1]
    n_wanted = m if n_wanted is None else n_wanted
    apply_m = _as_block_function(M)
    apply_b = (lambda V: V) if B is None else (lambda V: B @ V)
    BY = None if Y is None else apply_b(Y)
    X = _project_out(np.array(X, dtype=np.float64, order="C"), Y, BY)
    BX = apply_b(X)
    Z = _svqb_transform(X, BX)
    X, BX = X @ Z, BX @ Z
    AX = A @ X
    theta, C = _small_eig(X.T @ AX)
    X, AX, BX = X @ C, AX @ C, BX @ C
    P = AP = BP = None
    residual_norms = np.full(m, np.inf)
    n_iter = 0
    for n_iter in range(1, maxiter + 1):
        R = AX - BX * theta
        residual_norms = _column_norms(R)
        if callback is not None:
            callback(n_iter, residual_norms)
        if np.all(residual_norms[:n_wanted] <= tol):
            break
        active = residual_norms > tol
        T = R if active.all() else R[:, active]  # R is not used again
        if apply_m is not None:
            T = apply_m(T)
        T = _project_out(T, Y, BY)
        # B-orthogonal to X, columns of unit length: the basis stays well scaled
        T -= X @ (BX.T @ T)
        norms = _column_norms(T)
        T = T[:, norms > 0] / norms[norms > 0]
        if T.shape[1] == 0:
            break
        AT = A @ T
        BT = T if B is None else B @ T
        V = [X, T] if P is None else [X, T, P]
        AV = [AX, AT] if P is None else [AX, AT, AP]
        BV = [BX, BT] if P is None else [BX, BT, BP]
        # Gram matrices block by block: no tall concatenated copies
        # X is B-orthonormal with X.T A X = diag(theta) (Rayleigh-Ritz) and T is
        # B-orthogonal to X, so those blocks are known and not recomputed
        gram_a = _block_gram(V, AV, known={(0, 0): np.diag(theta)})
        gram_b = _block_gram(
            V, BV, known={(0, 0): np.eye(m), (0, 1): np.zeros((m, T.shape[1]))}
        )
        Z = _svqb_transform_from_gram(gram_b)
        theta_all, C_all = _small_eig(Z.T @ gram_a @ Z)
        coefficients = Z @ C_all[:, :m]  # in terms of the columns of [X, T, P]
        theta = theta_all[:m]
        widths = np.cumsum([0] + [v.shape[1] for v in V])
        parts = [coefficients[widths[i] : widths[i + 1]] for i in range(len(V))]
        P, AP = _combine(V[1:], parts[1:]), _combine(AV[1:], parts[1:])
        BP = P if B is None else _combine(BV[1:], parts[1:])
        X, AX = X @ parts[0] + P, AX @ parts[0] + AP
        BX = X if B is None else BX @ parts[0] + BP
    return theta, X, _column_norms(AX - BX * theta), n_iter


def _block_gram(left, right, known=None):
    """``[L_0 L_1 ...].T @ [R_0 R_1 ...]`` for a symmetric product, block by block.

    ``known`` maps ``(i, j)`` (with ``i <= j``) to blocks that need no product.
    """
    known = known or {}
    sizes = [v.shape[1] for v in left]
    edges = np.cumsum([0] + sizes)
    gram = np.empty((edges[-1], edges[-1]))
    for i, li in enumerate(left):
        for j in range(i, len(right)):
            block = known[i, j] if (i, j) in known else li.T @ right[j]
            gram[edges[i] : edges[i + 1], edges[j] : edges[j + 1]] = block
            gram[edges[j] : edges[j + 1], edges[i] : edges[i + 1]] = block.T
    return gram


def _combine(blocks, coefficients):
    out = blocks[0] @ coefficients[0]
    for block, c in zip(blocks[1:], coefficients[1:], strict=True):
        out += block @ c
    return out


def _column_norms(V):
    return np.sqrt(np.einsum("ij,ij->j", V, V))


def _as_block_function(M):
    if M is None:
        return None
    if callable(M) and not hasattr(M, "matmat"):
        return M
    return lambda block: M @ block


def _project_out(V, Y, BY):
    """``V - Y (BY^T V)``, in place when ``V`` is a fresh array."""
    if Y is None:
        return V
    V -= Y @ (BY.T @ V)
    return V


def _small_eig(matrix):
    return linalg.eigh((matrix + matrix.T) / 2)


def _svqb_transform(V, BV=None, drop=1e-12):
    """``Z`` such that ``V @ Z`` is ``B``-orthonormal (dependent directions dropped)."""
    return _svqb_transform_from_gram(V.T @ (V if BV is None else BV), drop)


def _svqb_transform_from_gram(gram, drop=1e-12):
    """``Z`` with ``Z.T @ gram @ Z = I`` on the well-conditioned part of ``gram``."""
    scale = np.sqrt(np.maximum(np.abs(np.diag(gram)), np.finfo(float).tiny))
    scaled = gram / scale[:, None] / scale[None, :]
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

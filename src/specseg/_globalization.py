"""Boundary strength -> spectral boundaries (sPb): intervening contours, globalized.

Local boundary cues fire on every texture edge and shading step. Spectral
globalization [1]_ keeps the boundaries that separate large coherent areas:

1. An *intervening-contour* graph: pixels ``p`` and ``q`` at most ``radius``
   apart are linked with affinity

   .. math:: w_{pq} = \\exp\\left(-\\max_{x \\in [p, q]} b(x) / \\rho\\right)

   where ``b`` is the local boundary strength and the maximum runs over the
   straight segment from ``p`` to ``q``: two pixels are similar unless a
   boundary lies between them, whatever their colours.
2. The smallest generalized eigenvectors ``L v = \\lambda D v`` of that graph,
   by specseg's eigen-engine (:func:`specseg.spectral_embedding`).
3. Their gradients: ``sPb(x) = sum_k |grad v_k(x)| / sqrt(lambda_k)``, so that
   the smoothest vectors, which carry the coarsest partitions, weigh most.

The graph is built on a grid coarser than the image by ``downsample`` (the
boundary map max-pooled, so thin ridges survive) to keep the eigenproblem
small; the eigenvectors are interpolated back to full resolution before their
gradients are taken.

References
----------
.. [1] P. Arbeláez, M. Maire, C. Fowlkes and J. Malik, "Contour detection and
       hierarchical image segmentation", IEEE TPAMI 33(5), 2011.
       :doi:`10.1109/TPAMI.2010.161`
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse

from ._features import block_reduce

__all__ = ["intervening_contour_graph", "spectral_boundaries"]

#: Residual tolerance of the eigenpairs (the subspace is within a few degrees).
SPECTRAL_TOL = 1e-3
#: Graphs up to this many nodes are solved densely.
DENSE_NODES = 1500


def _half_plane_offsets(radius):
    """Integer offsets ``(dy, dx)`` with ``0 < |d| <= radius``, one of each +/- pair."""
    offsets = []
    r = int(np.floor(radius))
    for dy in range(0, r + 1):
        for dx in range(-r, r + 1):
            if dy == 0 and dx <= 0:
                continue
            if dy * dy + dx * dx <= radius * radius:
                offsets.append((dy, dx))
    return offsets


def _segment_max(boundary, dy, dx):
    """``max`` of ``boundary`` along the segment from every pixel to pixel + (dy, dx).

    Returns the array for the pixels whose partner lies inside the image
    (rows ``[0, M - dy)``, columns ``[max(0, -dx), N - max(0, dx))``).
    """
    m, n = boundary.shape
    steps = max(abs(dy), abs(dx))
    rows = slice(0, m - dy)
    c0 = max(0, -dx)
    c1 = n - max(0, dx)
    out = None
    for s in range(steps + 1):
        oy = int(round(s * dy / steps))
        ox = int(round(s * dx / steps))
        piece = boundary[rows.start + oy : rows.stop + oy, c0 + ox : c1 + ox]
        out = piece.copy() if out is None else np.maximum(out, piece, out=out)
    return out


def intervening_contour_graph(boundary, *, radius=3.0, rho=0.1):
    """Affinity matrix of the intervening-contour graph of a boundary map.

    Parameters
    ----------
    boundary : (M, N) ndarray
        Boundary strength in [0, 1].
    radius : float, optional
        Pixels at most this far apart are linked.
    rho : float, optional
        Boundary strength at which the affinity falls to ``1/e``.

    Returns
    -------
    affinity : (M*N, M*N) scipy.sparse.csr_matrix
        Symmetric, no self-loops, raster order.

    Examples
    --------
    >>> b = np.zeros((4, 4))
    >>> b[:, 2] = 1.0
    >>> W = intervening_contour_graph(b, radius=1.0)
    >>> float(W[0, 1]), round(float(W[1, 2]), 6)
    (1.0, 4.5e-05)
    """
    boundary = np.asarray(boundary, dtype=np.float32)
    m, n = boundary.shape
    index = np.arange(m * n, dtype=np.int32).reshape(m, n)
    rows, cols, weights = [], [], []
    for dy, dx in _half_plane_offsets(radius):
        if dy >= m or abs(dx) >= n:
            continue
        peak = _segment_max(boundary, dy, dx)
        c0 = max(0, -dx)
        c1 = n - max(0, dx)
        rows.append(index[: m - dy, c0:c1].ravel())
        cols.append(index[dy:, c0 + dx : c1 + dx].ravel())
        weights.append(np.exp(-peak.ravel() / rho))
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    weights = np.concatenate(weights).astype(np.float64)
    upper = sparse.coo_matrix((weights, (rows, cols)), shape=(m * n, m * n))
    return (upper + upper.T).tocsr()


def spectral_boundaries(boundary, *, n_vectors=12, radius=3.0, rho=0.1, downsample=2,
                        sigma=1.0, random_state=None):
    """sPb: gradients of the intervening-contour graph's eigenvectors.

    Parameters
    ----------
    boundary : (M, N) ndarray
        Local boundary strength in [0, 1].
    n_vectors : int, optional
        Non-trivial eigenvectors used.
    radius, rho : float, optional
        See :func:`intervening_contour_graph` (in pixels of the coarse grid).
    downsample : int, optional
        The graph is built on a grid ``downsample`` times coarser.
    sigma : float, optional
        Gaussian scale (full-resolution pixels) of the eigenvector gradients.
    random_state : None, int or numpy.random.Generator, optional
        Seeds the eigensolver's start.

    Returns
    -------
    spectral : (M, N) ndarray of float32
        Non-negative; not normalised.
    """
    from ._embedding import spectral_embedding

    boundary = np.asarray(boundary, dtype=np.float32)
    m, n = boundary.shape
    coarse = block_reduce(boundary, downsample, np.max) if downsample > 1 else boundary
    affinity = intervening_contour_graph(coarse, radius=radius, rho=rho)
    k = min(n_vectors + 1, affinity.shape[0] - 1)
    # The gradients need the eigenvectors' shape, not digits: a loose residual
    # (SPECTRAL_TOL) is several times cheaper. Multigrid suits these graphs of
    # nearly separate pieces better than shift-invert at any size.
    solver = "dense" if affinity.shape[0] <= DENSE_NODES else "amg"
    vectors, values = spectral_embedding(affinity, k, solver=solver, tol=SPECTRAL_TOL,
                                         random_state=random_state, return_eigenvalues=True)
    out = np.zeros((m, n), dtype=np.float32)
    cm, cn = coarse.shape
    for j in range(1, k):
        v = vectors[:, j].reshape(cm, cn).astype(np.float32)
        v = v / (np.abs(v).max() + 1e-12)
        if downsample > 1:
            v = ndimage.zoom(v, (downsample, downsample), order=1, grid_mode=True,
                             mode="nearest")[:m, :n]
        out += ndimage.gaussian_gradient_magnitude(v, sigma) / np.sqrt(max(values[j], 1e-6))
    return out

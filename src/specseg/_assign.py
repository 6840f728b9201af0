"""Spectral embedding -> labels.

Each method reads the embedding row by row (one row per node) after scaling
every row to unit length, which makes the result independent of the
``D^{-1/2}`` factor between the two common forms of the eigenvectors and of
any rotation or sign of the eigenbasis.

- ``"cluster_qr"`` (Damle, Minden & Ying 2019): column-pivoted QR picks ``k``
  representative nodes, the polar factor of their rows rotates the embedding
  towards the coordinate axes, and each node takes its largest coordinate. The
  partition is then polished by Lloyd (k-means) iterations started from it.
  No random numbers are involved.
- ``"kmeans"``: scikit-learn's k-means with k-means++ starts seeded from
  ``random_state``.
- ``"discretize"`` (Yu & Shi 2003): alternates between the nearest discrete
  partition and the best orthogonal rotation of the embedding.

References
----------
.. [1] A. Damle, V. Minden and L. Ying, "Simple, direct and efficient multi-way
       spectral clustering", Information and Inference 8(1), 2019.
       :doi:`10.1093/imaiai/iay008`
.. [2] S. X. Yu and J. Shi, "Multiclass spectral clustering", ICCV 2003.
       :doi:`10.1109/ICCV.2003.1238361`
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, sparse

from ._validation import _derive_seed, check_option, check_random_state

__all__ = ["ASSIGN_METHODS", "assign_labels"]

ASSIGN_METHODS = ("cluster_qr", "kmeans", "discretize")


def assign_labels(embedding, n_clusters, *, method="cluster_qr", random_state=None):
    """Turn a spectral embedding into ``n_clusters`` labels.

    Parameters
    ----------
    embedding : (n_nodes, n_components) array_like
        One row per node, e.g. from :func:`spectral_embedding`.
    n_clusters : int
        Number of clusters.
    method : {"cluster_qr", "kmeans", "discretize"}, optional
        Assignment strategy (see the module notes).
    random_state : None, int or numpy.random.Generator, optional
        Seeds "kmeans" and "discretize"; "cluster_qr" is deterministic.

    Returns
    -------
    labels : (n_nodes,) ndarray of int
        Labels in ``0 .. n_clusters - 1``.

    Examples
    --------
    >>> emb = np.array([[1.0, 0.1], [0.9, 0.0], [0.1, 1.0], [0.0, 0.8]])
    >>> assign_labels(emb, 2)
    array([0, 0, 1, 1])
    """
    check_option("assignment method", method, ASSIGN_METHODS)
    embedding = np.asarray(embedding, dtype=np.float64)
    if embedding.ndim != 2:
        raise ValueError(f"embedding must be 2-D (n_nodes, n_components), got {embedding.shape}.")
    n_nodes = embedding.shape[0]
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise TypeError(f"n_clusters must be an integer, got {n_clusters!r}.")
    if not 1 <= n_clusters <= n_nodes:
        raise ValueError(f"n_clusters must be between 1 and {n_nodes}, got {n_clusters}.")
    if not np.isfinite(embedding).all():
        raise ValueError("embedding contains NaN or inf values.")
    if n_clusters == 1:
        return np.zeros(n_nodes, dtype=np.intp)
    rng = check_random_state(random_state)
    rows = _normalize_rows(embedding[:, :n_clusters])
    if method == "cluster_qr":
        labels = _cluster_qr_polished(rows, n_clusters)
    elif method == "kmeans":
        labels = _kmeans(rows, n_clusters, rng)
    else:
        labels = _discretize(rows, n_clusters, rng)
    return labels.astype(np.intp)


def _normalize_rows(vectors):
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def _cluster_qr(vectors):
    """Damle et al.'s CPQR assignment (deterministic)."""
    k = vectors.shape[1]
    _, _, pivots = linalg.qr(vectors.T, pivoting=True, mode="economic")
    left, _, right = linalg.svd(vectors[pivots[:k]].T)
    return np.abs(vectors @ (left @ right)).argmax(axis=1)


#: cluster_qr pivots and Lloyd centres are computed on an evenly strided sample
#: of at most this many rows; every row is then assigned to its nearest centre.
SAMPLE_ROWS = 200_000


def _cluster_qr_polished(rows, k):
    """cluster_qr on a deterministic row sample, Lloyd-polished, then every row assigned."""
    stride = -(-rows.shape[0] // SAMPLE_ROWS)
    sample = rows[::stride]
    labels = _lloyd(sample, _cluster_qr(sample), k)
    if stride == 1:
        return labels
    return _nearest_centre(rows, _centres(sample, labels, k))


def _centres(vectors, labels, k):
    """Cluster means (NaN rows for empty clusters)."""
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros((k, vectors.shape[1]))
    _scatter_add(sums, labels, vectors)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def _nearest_centre(vectors, centres):
    """Label of the nearest centre (squared Euclidean); NaN centres are never chosen."""
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2 ; |x|^2 is constant per row
    empty = np.isnan(centres).any(axis=1)
    safe = np.where(empty[:, None], 0.0, centres)
    scores = vectors @ safe.T - 0.5 * np.einsum("ij,ij->i", safe, safe)
    scores[:, empty] = -np.inf
    return scores.argmax(axis=1)


def _lloyd(vectors, labels, k, max_iter=50):
    """Polish a partition with Lloyd iterations; empty clusters keep their centre."""
    centres = np.zeros((k, vectors.shape[1]))
    for _ in range(max_iter):
        new_centres = _centres(vectors, labels, k)
        empty = np.isnan(new_centres).any(axis=1)
        centres[~empty] = new_centres[~empty]
        new = _nearest_centre(vectors, np.where(empty[:, None], np.nan, centres))
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _scatter_add(out, labels, vectors):
    indicator = sparse.csr_array(
        (np.ones(labels.size), (labels, np.arange(labels.size))), shape=(out.shape[0], labels.size)
    )
    out += indicator @ vectors


def _kmeans(vectors, k, rng):
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=10, random_state=_derive_seed(rng))
    return model.fit_predict(vectors)


def _discretize(vectors, k, rng, max_iter=30):
    """Yu & Shi's rotation-discretization of a (row-normalized) embedding."""
    n = vectors.shape[0]
    # initial rotation: rows picked to be as orthogonal as possible
    rotation = np.zeros((k, k))
    rotation[:, 0] = vectors[rng.integers(n)]
    c = np.zeros(n)
    for j in range(1, k):
        c += np.abs(vectors @ rotation[:, j - 1])
        rotation[:, j] = vectors[c.argmin()]
    last_objective = 0.0
    labels = np.zeros(n, dtype=np.intp)
    for _ in range(max_iter):
        labels = (vectors @ rotation).argmax(axis=1)
        indicator = sparse.csr_array(
            (np.ones(n), (np.arange(n), labels)), shape=(n, k)
        )
        u, s, vh = linalg.svd(indicator.T @ vectors)
        objective = 2.0 * (n - s.sum())
        if abs(objective - last_objective) < np.finfo(float).eps * n:
            break
        last_objective = objective
        rotation = (vh.T @ u.T)
    return labels

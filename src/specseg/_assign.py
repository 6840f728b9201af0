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

from ._parallel import map_chunks, single_threaded_blas, single_threaded_openmp
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
    rng = check_random_state(random_state)
    return _assign(embedding[:, :n_clusters], n_clusters, method=method, rng=rng)


def _assign(embedding, n_clusters, *, method, rng, n_init=10, verbose=False):
    """:func:`assign_labels` on a checked, finite embedding.

    "kmeans" reads every column of ``embedding`` (scikit-learn's meaning of an
    ``n_components`` larger or smaller than ``n_clusters``); "cluster_qr" and
    "discretize" rotate ``n_clusters`` columns onto the coordinate axes, so they
    read the first ``n_clusters`` and need at least that many.
    """
    n_nodes = embedding.shape[0]
    if n_clusters == 1:
        return np.zeros(n_nodes, dtype=np.intp)
    if method == "kmeans":
        labels = _kmeans(_normalize_rows(embedding), n_clusters, rng, n_init=n_init,
                         verbose=verbose)
        return labels.astype(np.intp)
    if embedding.shape[1] < n_clusters:
        raise ValueError(
            f"assignment method {method!r} needs at least n_clusters={n_clusters} "
            f"eigenvectors, got {embedding.shape[1]}; pass n_components >= n_clusters "
            "(or None), or use the 'kmeans' assignment."
        )
    rows = _normalize_rows(embedding[:, :n_clusters])
    if method == "cluster_qr":
        labels = _cluster_qr_polished(rows, n_clusters)
    else:
        labels = _discretize(rows, n_clusters, rng)
    return labels.astype(np.intp)


#: Rows are scored (and their norms summed) in blocks of this many, so that a
#: block's scores stay in cache.
BLOCK_ROWS = 16_384


def _normalize_rows(vectors):
    """Rows scaled to unit length (zero rows stay zero), as a new C-contiguous array."""
    norms = _row_norms(vectors)
    norms[norms == 0] = 1.0
    out = np.empty(vectors.shape)
    map_chunks(vectors.shape[0], lambda a, b: np.divide(
        vectors[a:b], norms[a:b, None], out=out[a:b]), chunk=BLOCK_ROWS)
    return out


def _row_norms(vectors):
    """``np.linalg.norm(vectors, axis=1)`` to the last bit, in a fraction of its time.

    The last bits matter: every normalized row has length 1 up to rounding, so
    the column-pivoted QR of :func:`_cluster_qr` picks among near ties, and a
    norm summed in another order can change its pivots and so the labels.

    NumPy's order of the additions follows the memory layout: with rows
    contiguous (C order, or a column slice of it) it sums each row pairwise
    (:func:`_pairwise_sum`), with one call per row, which dominates for short
    rows; with columns contiguous (Fortran order) it adds column after column.
    Both orders are reproduced here with whole-column operations, the pairwise
    one on blocks of rows transposed so that the block stays in cache. Other
    layouts (a stride of 0, equal strides) are left to NumPy; an axis of length
    1 has no say in the order.
    """
    n, k = vectors.shape
    row_step, column_step = (abs(step) for step in vectors.strides)
    if n > 1 and k > 1 and (min(row_step, column_step) == 0 or row_step == column_step):
        return np.linalg.norm(vectors, axis=1)
    if k > 1 and (n == 1 or row_step > column_step):
        sums = np.empty(n)

        def block_sums(start, stop):
            block = vectors[start:stop]
            squares = np.multiply(block.T, block.T, order="C")
            sums[start:stop] = _pairwise_sum(squares)

        map_chunks(n, block_sums, chunk=BLOCK_ROWS)
    else:
        sums = np.zeros(n)
        square = np.empty(n)
        for j in range(k):
            sums += np.square(vectors[:, j], out=square)
    return np.sqrt(sums, out=sums)


def _pairwise_sum(terms):
    """Sum of the rows of ``terms`` in the order of NumPy's ``pairwise_sum``; overwrites ``terms``.

    That is the order in which ``np.add.reduce`` sums a contiguous row
    (``numpy/_core/src/umath/loops_utils.h.src``): fewer than 8 terms one after
    the other; up to 128 in 8 interleaved partial sums, added as a tree, then
    the terms past the last multiple of 8 one by one; more are split in two
    halves (the first a multiple of 8 long), each summed so.
    """
    k = terms.shape[0]
    if k > 128:
        half = k // 2
        half -= half % 8
        return _pairwise_sum(terms[:half]) + _pairwise_sum(terms[half:])
    total = terms[0]
    if k < 8:
        for term in terms[1:]:
            total += term
        return total
    partial = terms[:8]
    whole = k - k % 8
    for i in range(8, whole, 8):
        partial += terms[i : i + 8]
    partial[0::2] += partial[1::2]  # r0 + r1, r2 + r3, r4 + r5, r6 + r7
    partial[0::4] += partial[2::4]  # (r0 + r1) + (r2 + r3), (r4 + r5) + (r6 + r7)
    total += partial[4]
    for term in terms[whole:]:
        total += term
    return total


def _cluster_qr(vectors):
    """Damle et al.'s CPQR assignment (deterministic); ``vectors`` must be finite."""
    k = vectors.shape[1]
    # only the pivots are used: skip forming Q
    _, pivots = linalg.qr(vectors.T, pivoting=True, mode="r", check_finite=False)
    left, _, right = linalg.svd(vectors[pivots[:k]].T)
    return _best_columns(vectors, (left @ right).T, absolute=True)


#: cluster_qr pivots and Lloyd centres, and the k-means starts of "kmeans", are
#: computed on an evenly strided sample of at most this many rows; every row is
#: then assigned to its nearest centre (for "kmeans", Lloyd runs on, over all rows).
#: On the 1024² benchmark graph (k=8) the normalized cut after refinement was the
#: same to 0.3% with 50,000, 100,000 and 200,000 rows; the assignment took 0.10,
#: 0.15 and 0.29 s (Lloyd needed 30 rounds on the larger samples).
SAMPLE_ROWS = 50_000


def _row_sample(rows, limit=None):
    """``(sample, stride)``: every ``stride``-th row, at most ``limit`` of them
    (default ``SAMPLE_ROWS``), as a contiguous copy (every pass of the methods on
    it reads it whole)."""
    stride = -(-rows.shape[0] // (SAMPLE_ROWS if limit is None else limit))
    return np.ascontiguousarray(rows[::stride]), stride


def _cluster_qr_polished(rows, k):
    """cluster_qr on a deterministic row sample, Lloyd-polished, then every row assigned."""
    sample, stride = _row_sample(rows)
    labels, centres = _lloyd(sample, _cluster_qr(sample), k)
    if stride == 1:
        return labels
    return _nearest_centre(rows, centres)


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
    offsets = 0.5 * np.einsum("ij,ij->i", safe, safe)
    offsets[empty] = np.inf  # a score minus inf is -inf: never the largest
    return _best_columns(vectors, safe, offsets)


def _best_columns(vectors, directions, offsets=None, *, absolute=False):
    """``argmax`` along the rows of ``vectors @ directions.T - offsets``.

    With ``absolute``, of ``abs(vectors @ directions.T)`` instead. Ties go to the
    first column, as with :func:`numpy.argmax`.

    The scores are computed transposed, one row per direction, for blocks of
    :data:`BLOCK_ROWS` nodes at a time (in parallel, see ``_parallel``), and
    reduced over the directions along contiguous memory that stays in cache,
    where an ``argmax`` along short rows costs a call per row.
    """
    k = directions.shape[0]
    order = np.arange(k, dtype=np.min_scalar_type(k))[:, None]
    past_last = order.dtype.type(k)
    if offsets is not None:
        offsets = offsets[:, None]
    labels = np.empty(vectors.shape[0], dtype=np.intp)

    def best(start, stop):
        scores = directions @ vectors[start:stop].T
        if absolute:
            np.abs(scores, out=scores)
        if offsets is not None:
            scores -= offsets
        is_best = scores == scores.max(axis=0)
        labels[start:stop] = np.where(is_best, order, past_last).min(axis=0)

    map_chunks(vectors.shape[0], best, chunk=BLOCK_ROWS)
    return labels


def _lloyd(vectors, labels, k, max_iter=50):
    """Polish a partition with Lloyd iterations; empty clusters keep their centre.

    Returns the labels and their cluster means (as :func:`_centres`).
    """
    centres = np.zeros((k, vectors.shape[1]))
    for _ in range(max_iter):
        means = _centres(vectors, labels, k)
        empty = np.isnan(means).any(axis=1)
        centres[~empty] = means[~empty]
        new = _nearest_centre(vectors, np.where(empty[:, None], np.nan, centres))
        if np.array_equal(new, labels):
            return labels, means
        labels = new
    return labels, _centres(vectors, labels, k)


def _scatter_add(out, labels, vectors):
    # a sparse indicator sums each cluster's rows in row order, like np.bincount,
    # and was the faster of the two here on contiguous rows
    indicator = sparse.csr_array(
        (np.ones(labels.size), (labels, np.arange(labels.size))), shape=(out.shape[0], labels.size)
    )
    out += indicator @ vectors


def _kmeans(vectors, k, rng, *, n_init=10, verbose=False):
    """scikit-learn's k-means, best of ``n_init`` k-means++ starts.

    Above ``_kmeans_sample_rows(k)`` rows the ``n_init`` runs are made on an
    evenly strided sample of that many rows, and their best centres start one
    run of Lloyd iterations on every row: most of a run's time is its k-means++
    start, a pass over all rows per centre and trial.
    """
    seed = _derive_seed(rng)
    limit = _kmeans_sample_rows(k)
    # its k-means++ starts are BLAS products, its Lloyd steps OpenMP loops
    with single_threaded_blas(), single_threaded_openmp():
        if vectors.shape[0] <= limit:
            return _fit_kmeans(vectors, k, seed, n_init=n_init, verbose=verbose)[0]
        sample, _ = _row_sample(vectors, limit)
        centres = _fit_kmeans(sample, k, seed, n_init=n_init, verbose=verbose)[1]
        return _fit_kmeans(vectors, k, seed, init=centres, verbose=verbose)[0]


#: The k-means starts of "kmeans" are made on a sample of this many rows per
#: cluster, at least ``KMEANS_SAMPLE_MIN_ROWS`` and at most ``SAMPLE_ROWS``.
#: Measured on the spectral embeddings of the 10-NN graphs of the data
#: benchmark (blobs in 10-D of 5,000, 10,000 and 20,000 points, a 64-D mixture
#: of 20,000, moons and circles of 10,000), seeds 0-4: the same mean ARI with
#: samples of 1,000, 2,000 and 4,000 rows as with every row, and labels within
#: ARI 0.9999 of the full runs; 10,000 points took 9, 12, 16 and 27 ms, 20,000
#: points 11, 13, 19 and 49 ms. (Digits, 1,797 points, lost 0.0004 of ARI with
#: 1,000 rows.)
KMEANS_SAMPLE_PER_CLUSTER = 200
KMEANS_SAMPLE_MIN_ROWS = 2000


def _kmeans_sample_rows(k):
    return min(SAMPLE_ROWS, max(KMEANS_SAMPLE_MIN_ROWS, KMEANS_SAMPLE_PER_CLUSTER * k))


def _fit_kmeans(vectors, k, seed, *, n_init=1, init=None, verbose=False):
    """``(labels, centres)`` of ``KMeans(k, init=init, n_init=n_init,
    random_state=seed).fit(vectors)``, with k-means++ starts if ``init`` is None.

    Without ``verbose``, the same computation is made here, step for step and
    with the same random numbers, around scikit-learn's own Lloyd run (the
    labels and centres are the same to the last bit): called as ``KMeans``
    calls it but without its thread-limiting wrapper, it needs no
    ``ThreadpoolController`` of its own (3 ms, or 10 ms in a process that has
    none yet; the caller limits the threads already), and the checks of
    ``KMeans`` and of its small calls are skipped.
    """
    lloyd = None if verbose else _sklearn_lloyd()
    if lloyd is None:
        from sklearn.cluster import KMeans

        fitted = KMeans(n_clusters=k, init="k-means++" if init is None else init,
                        n_init=n_init, random_state=seed, verbose=verbose).fit(vectors)
        return fitted.labels_, fitted.cluster_centers_
    X = np.array(vectors, dtype=np.float64, order="C")
    tol = np.mean(np.var(X, axis=0)) * KMEANS_TOL  # scikit-learn's _tolerance
    mean = X.mean(axis=0)
    X -= mean  # as KMeans does, for accurate distances
    squared_norms = np.einsum("ij,ij->i", X, X)
    weights = np.ones(X.shape[0])
    random_state = np.random.RandomState(seed)
    best = None
    for _ in range(n_init):
        if init is None:
            start = _kmeans_plusplus(X, k, squared_norms, weights, random_state)
        else:
            start = np.asarray(init, dtype=np.float64) - mean  # a new array: the run writes to it
        labels, inertia, centres, _ = lloyd(X, weights, start, max_iter=KMEANS_MAX_ITER,
                                            verbose=False, tol=tol, n_threads=1)
        if best is None or (inertia < best[1] and not _same_partition(labels, best[0], k)):
            best = labels, inertia, centres
    labels, _, centres = best
    found = np.unique(labels).size
    if found < k:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"Number of distinct clusters ({found}) found smaller than n_clusters ({k}). "
            "Possibly due to duplicate points in X.",
            ConvergenceWarning, stacklevel=4,
        )
    return labels, centres + mean


#: scikit-learn's ``KMeans`` defaults.
KMEANS_TOL = 1e-4
KMEANS_MAX_ITER = 300


def _sklearn_lloyd():
    """scikit-learn's ``_kmeans_single_lloyd`` without its wrapper, or None if this
    version of scikit-learn has no such function."""
    try:
        from sklearn.cluster._kmeans import _kmeans_single_lloyd
    except ImportError:  # pragma: no cover - another version of scikit-learn
        return None
    run = getattr(_kmeans_single_lloyd, "__wrapped__", None)
    names = getattr(getattr(run, "__code__", None), "co_varnames", ())[:7]
    expected = ("X", "sample_weight", "centers_init", "max_iter", "verbose", "tol", "n_threads")
    return run if names == expected else None


def _kmeans_plusplus(X, k, squared_norms, weights, random_state):
    """scikit-learn's ``_kmeans_plusplus`` (dense ``X``), the same operations in
    the same order, so that it draws the same random numbers and picks the same
    centres."""
    n = X.shape[0]
    n_trials = 2 + int(np.log(k))
    centres = np.empty((k, X.shape[1]))
    centres[0] = X[random_state.choice(n, p=weights / weights.sum())]
    closest = _squared_distances(centres[:1], X, squared_norms)
    potential = closest @ weights
    column = weights.reshape(-1, 1)
    for c in range(1, k):  # (methods, not NumPy's functions: less overhead per call)
        targets = random_state.uniform(size=n_trials) * potential
        candidates = (weights * closest).cumsum().searchsorted(targets)
        np.minimum(candidates, closest.size - 1, out=candidates)  # as its np.clip
        distances = _squared_distances(X[candidates], X, squared_norms)
        np.minimum(closest, distances, out=distances)
        potentials = distances @ column
        best = potentials.argmin()
        potential = potentials[best]
        closest = distances[best]
        centres[c] = X[candidates[best]]
    return centres


def _squared_distances(points, X, squared_norms):
    """scikit-learn's ``_euclidean_distances(points, X, Y_norm_squared=squared_norms,
    squared=True)`` for float64 arrays."""
    distances = -2 * (points @ X.T)
    distances += np.einsum("ij,ij->i", points, points)[:, None]
    distances += squared_norms.reshape(1, -1)
    return np.maximum(distances, 0, out=distances)


def _same_partition(labels, other, k):
    """scikit-learn's ``_is_same_clustering``: does each label of ``labels`` go
    with a single label of ``other``?"""
    pairs = np.bincount(labels.astype(np.int64) * k + other, minlength=k * k)
    return bool(((pairs.reshape(k, k) > 0).sum(axis=1) <= 1).all())


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

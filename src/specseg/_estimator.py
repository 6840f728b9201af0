"""scikit-learn estimators over specseg's engine: ``SpectralClustering`` and
``SpectralEmbedding``.

Both take scikit-learn's parameters with their meanings and build the affinity
matrix from data as scikit-learn does (an RBF or other kernel, a symmetrized
k-nearest-neighbour connectivity graph, or a precomputed matrix); the
eigenproblem and the label assignment are specseg's own
(:func:`spectral_clustering`, :func:`spectral_embedding`). They are thin shells:
parameters are stored as given, validated in ``fit`` through
``_parameter_constraints``, and learned attributes end with ``_``.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context
from sklearn.metrics.pairwise import KERNEL_PARAMS, pairwise_kernels, rbf_kernel
from sklearn.neighbors import NearestNeighbors, kneighbors_graph
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from ._assign import ASSIGN_METHODS
from ._clustering import spectral_clustering
from ._embedding import SOLVERS, spectral_embedding

__all__ = ["SpectralClustering", "SpectralEmbedding"]

_GRAPH_AFFINITIES = {"nearest_neighbors", "precomputed", "precomputed_nearest_neighbors"}
_PRECOMPUTED = ("precomputed", "precomputed_nearest_neighbors")
_RANDOM_STATE = ["random_state", np.random.Generator]


class SpectralClustering(ClusterMixin, BaseEstimator):
    """Spectral clustering (normalized cut) of data or of an affinity matrix.

    A drop-in for :class:`sklearn.cluster.SpectralClustering`, with the same
    parameters, defaults and attributes, whose eigenproblem and label assignment
    run on specseg's engine (:func:`spectral_clustering`).

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    eigen_solver : {None, "auto", "arpack", "lobpcg", "amg", "dense"}, default=None
        Eigensolver (see :func:`spectral_embedding`); None means "auto", which
        picks by the graph's size and structure (scikit-learn's None is "arpack").
    n_components : int, default=None
        Number of eigenvectors (default ``n_clusters``).
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seeds the solver and the assignment; None means a fixed seed.
    n_init : int, default=10
        k-means runs of the "kmeans" assignment.
    gamma : float, default=1.0
        Kernel coefficient of "rbf", "poly", "sigmoid", "laplacian" and "chi2".
    affinity : str or callable, default="rbf"
        "nearest_neighbors" (symmetrized k-NN connectivity), "rbf",
        "precomputed" (``X`` is the affinity matrix),
        "precomputed_nearest_neighbors" (``X`` holds distances; their
        ``n_neighbors`` nearest make a connectivity graph), one of
        :func:`sklearn.metrics.pairwise.pairwise_kernels`' kernels, or a
        callable of two rows that returns their similarity.
    n_neighbors : int, default=10
        Neighbours of the k-NN graph.
    eigen_tol : float or "auto", default="auto"
        Eigensolver tolerance ("auto": specseg's default, see
        :func:`spectral_embedding`).
    assign_labels : {"kmeans", "discretize", "cluster_qr"}, default="kmeans"
        Label assignment, see :func:`assign_labels`.
    degree, coef0 : float, default=3, 1
        Parameters of the polynomial and sigmoid kernels.
    kernel_params : dict, default=None
        Keyword arguments of a callable ``affinity``.
    n_jobs : int, default=None
        Parallel jobs of the neighbour search.
    verbose : bool, default=False
        Print the stages.
    refine : bool, default=False
        Polish the labels by local moves that lower the normalized cut
        (:func:`refine_ncut`; specseg's own, off by default as scikit-learn has
        no such step).

    Attributes
    ----------
    affinity_matrix_ : (n_samples, n_samples) ndarray or sparse matrix
        The affinity matrix that was clustered.
    labels_ : (n_samples,) ndarray of int
        Cluster label of each sample.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features seen in ``fit``, where ``X`` had string names.

    Examples
    --------
    >>> from specseg import SpectralClustering
    >>> X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    >>> SpectralClustering(n_clusters=2, random_state=0).fit(X).labels_
    array([0, 0, 0, 1, 1, 1])
    >>> SpectralClustering(n_clusters=2, assign_labels="cluster_qr").fit_predict(X)
    array([0, 0, 0, 1, 1, 1])
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "eigen_solver": [StrOptions(set(SOLVERS)), None],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": _RANDOM_STATE,
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "affinity": [callable, StrOptions(set(KERNEL_PARAMS) | _GRAPH_AFFINITIES)],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "eigen_tol": [Interval(Real, 0.0, None, closed="left"), StrOptions({"auto"})],
        "assign_labels": [StrOptions(set(ASSIGN_METHODS))],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "kernel_params": [dict, None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "refine": ["boolean"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        eigen_solver=None,
        n_components=None,
        random_state=None,
        n_init=10,
        gamma=1.0,
        affinity="rbf",
        n_neighbors=10,
        eigen_tol="auto",
        assign_labels="kmeans",
        degree=3,
        coef0=1,
        kernel_params=None,
        n_jobs=None,
        verbose=False,
        refine=False,
    ):
        self.n_clusters = n_clusters
        self.eigen_solver = eigen_solver
        self.n_components = n_components
        self.random_state = random_state
        self.n_init = n_init
        self.gamma = gamma
        self.affinity = affinity
        self.n_neighbors = n_neighbors
        self.eigen_tol = eigen_tol
        self.assign_labels = assign_labels
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.refine = refine

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Cluster ``X`` (data, or an affinity or distance matrix, see ``affinity``).

        Parameters
        ----------
        X : (n_samples, n_features) or (n_samples, n_samples) array_like or sparse
            Samples, or the precomputed affinities or distances.
        y : None
            Ignored.

        Returns
        -------
        self : SpectralClustering
        """
        X = validate_data(self, X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64,
                          ensure_min_samples=2)
        _warn_square_data(X, self.affinity)
        self.affinity_matrix_ = _affinity_matrix(
            X, self.affinity, n_neighbors=self.n_neighbors, n_jobs=self.n_jobs,
            kernel_params=self._kernel_params(),
        )
        self.labels_ = spectral_clustering(
            self.affinity_matrix_,
            self.n_clusters,
            n_components=self.n_components,
            eigen_solver=self.eigen_solver,
            random_state=self.random_state,
            n_init=self.n_init,
            eigen_tol=self.eigen_tol,
            assign_labels=self.assign_labels,
            verbose=self.verbose,
            refine=self.refine,
        )
        return self

    def fit_predict(self, X, y=None):
        """Cluster ``X`` and return the labels (see :meth:`fit`).

        Returns
        -------
        labels : (n_samples,) ndarray of int
        """
        return super().fit_predict(X, y)

    def _kernel_params(self):
        # a copy: scikit-learn's own estimator writes into the user's dict
        params = dict(self.kernel_params or {})
        if not callable(self.affinity):
            params.update(gamma=self.gamma, degree=self.degree, coef0=self.coef0)
        return params

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = self.affinity in _PRECOMPUTED
        return tags


class SpectralEmbedding(TransformerMixin, BaseEstimator):
    """Laplacian eigenmaps: the normalized-cut eigenvectors as coordinates.

    A drop-in for :class:`sklearn.manifold.SpectralEmbedding` on specseg's
    engine (:func:`spectral_embedding`): the ``n_components`` generalized
    eigenvectors after the trivial constant one.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the embedding.
    affinity : str or callable, default="nearest_neighbors"
        "nearest_neighbors", "rbf", "precomputed",
        "precomputed_nearest_neighbors", or a callable that takes ``X`` and
        returns an affinity matrix.
    gamma : float, default=None
        RBF coefficient (default ``1 / n_features``).
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seeds the solver; None means a fixed seed.
    eigen_solver : {None, "auto", "arpack", "lobpcg", "amg", "dense"}, default=None
        Eigensolver; None means "auto".
    eigen_tol : float or "auto", default="auto"
        Eigensolver tolerance.
    n_neighbors : int, default=None
        Neighbours of the k-NN graph (default ``max(n_samples // 10, 1)``).
    n_jobs : int, default=None
        Parallel jobs of the neighbour search.

    Attributes
    ----------
    embedding_ : (n_samples, n_components) ndarray
        The embedding of the training data; float32 where the affinity matrix is
        float32 (float32 data with a kernel affinity), float64 otherwise.
    affinity_matrix_ : (n_samples, n_samples) ndarray or sparse matrix
        The affinity matrix that was embedded.
    n_neighbors_ : int
        Neighbours used (with a nearest-neighbour affinity).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features seen in ``fit``, where ``X`` had string names.

    Examples
    --------
    >>> from specseg import SpectralEmbedding
    >>> X = np.arange(10.0)[:, None] ** 1.5  # points on a line
    >>> Y = SpectralEmbedding(n_components=1, n_neighbors=3).fit_transform(X)
    >>> Y.shape
    (10, 1)
    >>> bool(np.all(np.diff(Y[:, 0]) > 0) or np.all(np.diff(Y[:, 0]) < 0))  # in order
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "affinity": [
            StrOptions({"nearest_neighbors", "rbf", "precomputed",
                        "precomputed_nearest_neighbors"}),
            callable,
        ],
        "gamma": [Interval(Real, 0, None, closed="left"), None],
        "random_state": _RANDOM_STATE,
        "eigen_solver": [StrOptions(set(SOLVERS)), None],
        "eigen_tol": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [None, Integral],
    }

    def __init__(
        self,
        n_components=2,
        *,
        affinity="nearest_neighbors",
        gamma=None,
        random_state=None,
        eigen_solver=None,
        eigen_tol="auto",
        n_neighbors=None,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.affinity = affinity
        self.gamma = gamma
        self.random_state = random_state
        self.eigen_solver = eigen_solver
        self.eigen_tol = eigen_tol
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Embed ``X`` (data, or an affinity or distance matrix, see ``affinity``).

        Parameters
        ----------
        X : (n_samples, n_features) or (n_samples, n_samples) array_like or sparse
            Samples, or the precomputed affinities or distances.
        y : None
            Ignored.

        Returns
        -------
        self : SpectralEmbedding
        """
        X = validate_data(self, X, accept_sparse="csr", ensure_min_samples=2)
        n_samples = X.shape[0]
        if self.affinity in ("nearest_neighbors", "precomputed_nearest_neighbors"):
            self.n_neighbors_ = (self.n_neighbors if self.n_neighbors is not None
                                 else max(n_samples // 10, 1))
        if callable(self.affinity):
            self.affinity_matrix_ = self.affinity(X)
        elif self.affinity == "rbf":
            gamma = self.gamma if self.gamma is not None else 1.0 / X.shape[1]
            self.affinity_matrix_ = rbf_kernel(X, gamma=gamma)
        else:
            self.affinity_matrix_ = _affinity_matrix(
                X, self.affinity, n_neighbors=getattr(self, "n_neighbors_", None),
                n_jobs=self.n_jobs, kernel_params={},
            )
        if self.n_components + 1 > n_samples:
            raise ValueError(
                f"n_components={self.n_components} needs more than {n_samples} samples "
                f"(the trivial eigenvector is dropped); ask for at most {n_samples - 1}."
            )
        solver = "auto" if self.eigen_solver is None else self.eigen_solver
        tol = None if isinstance(self.eigen_tol, str) else float(self.eigen_tol)
        embedding = spectral_embedding(self.affinity_matrix_, self.n_components + 1,
                                       solver=solver, tol=tol, random_state=self.random_state)
        self.embedding_ = np.ascontiguousarray(embedding[:, 1:],
                                               dtype=_embedding_dtype(self.affinity_matrix_))
        return self

    def fit_transform(self, X, y=None):
        """Embed ``X`` and return the embedding (see :meth:`fit`).

        Returns
        -------
        embedding : (n_samples, n_components) ndarray
        """
        return self.fit(X).embedding_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = self.affinity in _PRECOMPUTED
        return tags


def _embedding_dtype(affinity_matrix):
    """The dtype of an embedding of ``affinity_matrix``, as scikit-learn's.

    scikit-learn keeps float32 through the eigensolver: float32 data (or a
    float32 precomputed affinity) gives a float32 embedding; every other dtype
    gives float64. specseg solves in float64 and casts the result.

    Parameters
    ----------
    affinity_matrix : ndarray or sparse matrix
        The affinity matrix that was embedded.

    Returns
    -------
    dtype : numpy.dtype
        float32 where ``affinity_matrix`` is float32, float64 otherwise.
    """
    if getattr(affinity_matrix, "dtype", None) == np.float32:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _warn_square_data(X, affinity):
    """scikit-learn's reminder that square data is taken as samples, not affinities."""
    if X.shape[0] == X.shape[1] and affinity not in _PRECOMPUTED:
        warnings.warn(
            "The spectral clustering API has changed. ``fit`` now constructs an affinity "
            "matrix from data. To use a custom affinity matrix, set "
            "``affinity=precomputed``.",
            stacklevel=3,
        )


def _affinity_matrix(X, affinity, *, n_neighbors, n_jobs, kernel_params):
    """The affinity matrix of ``X``, built as scikit-learn builds it."""
    if affinity == "nearest_neighbors":
        connectivity = kneighbors_graph(X, n_neighbors=n_neighbors, include_self=True,
                                        n_jobs=n_jobs)
        return 0.5 * (connectivity + connectivity.T)
    if affinity == "precomputed_nearest_neighbors":
        estimator = NearestNeighbors(n_neighbors=n_neighbors, n_jobs=n_jobs,
                                     metric="precomputed").fit(X)
        connectivity = estimator.kneighbors_graph(X=X, mode="connectivity")
        return 0.5 * (connectivity + connectivity.T)
    if affinity == "precomputed":
        return X
    return pairwise_kernels(X, metric=affinity, filter_params=True, **kernel_params)

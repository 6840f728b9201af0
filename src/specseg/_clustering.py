"""Affinity graph -> labels: the drop-in ``spectral_clustering``."""

from __future__ import annotations

import numbers
from contextlib import nullcontext

import numpy as np

from ._allocator import job_memory
from ._assign import ASSIGN_METHODS, _assign
from ._components import separate_components
from ._embedding import SOLVERS, _embed, _touched_bytes
from ._parallel import single_threaded_blas
from ._refine import _refine
from ._validation import (
    check_affinity,
    check_n_segments,
    check_not_np_matrix,
    check_option,
    check_positive_float,
    check_random_state,
)

__all__ = ["spectral_clustering"]


def spectral_clustering(
    affinity,
    n_clusters=8,
    *,
    n_components=None,
    eigen_solver=None,
    random_state=None,
    n_init=10,
    eigen_tol="auto",
    assign_labels=None,
    verbose=False,
    solver="auto",
    assign="cluster_qr",
    refine=True,
    tol=None,
):
    """Partition a graph by the normalized cut (spectral clustering).

    A drop-in for :func:`sklearn.cluster.spectral_clustering`: it takes
    scikit-learn's keywords with their meanings, checks its inputs in the same
    order with the same error types (the parameters, then the type of
    ``affinity``, then the values that depend on the graph), and accepts what
    scikit-learn accepts, including ``sklearn.feature_extraction.image.img_to_graph``
    output with its diagonal (self-loops are ignored, as they do not change a
    normalized cut). Its own engine solves the eigenproblem.

    Parameters
    ----------
    affinity : (n, n) sparse matrix or ndarray
        Symmetric non-negative affinities. An ``np.matrix`` is refused with a
        ``TypeError``, as scikit-learn refuses it.
    n_clusters : int, optional
        Number of clusters.
    n_components : int, optional
        Number of eigenvectors to embed (default ``n_clusters``). The "kmeans"
        assignment clusters all of them; "cluster_qr" and "discretize" use the
        first ``n_clusters`` and need at least that many.
    eigen_solver : {None, "arpack", "lobpcg", "amg", "dense", "auto"}, optional
        scikit-learn's name for ``solver`` (None: use ``solver``).
    random_state : None, int, numpy.random.Generator or RandomState, optional
        Seeds every random choice. The same value gives the same labels (None
        means a fixed seed, unlike scikit-learn).
    n_init : int, optional
        Number of k-means runs of the "kmeans" assignment (the best is kept).
    eigen_tol : float or "auto", optional
        scikit-learn's name for ``tol`` ("auto": use ``tol``).
    assign_labels : {None, "kmeans", "discretize", "cluster_qr"}, optional
        scikit-learn's name for ``assign`` (None: use ``assign``; note that
        scikit-learn's default is "kmeans", this function's "cluster_qr").
    verbose : bool, optional
        Print the stages (and k-means' progress), as scikit-learn does.
    solver : {"auto", "arpack", "lobpcg", "amg", "dense"}, optional
        Eigensolver, see :func:`spectral_embedding`.
    assign : {"cluster_qr", "kmeans", "discretize"}, optional
        Label assignment, see :func:`assign_labels`.
    refine : bool, optional
        Polish the labels by local moves that lower the normalized cut
        (:func:`refine_ncut`); the objective never rises.
    tol : float, optional
        Eigensolver tolerance.

    Returns
    -------
    labels : (n,) ndarray of int
        Cluster labels in ``0 .. n_clusters - 1``.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A bad parameter, as scikit-learn raises it: both a ``ValueError`` and a
        ``TypeError``, its message naming the parameter and the fix.
    TypeError
        ``affinity`` is an ``np.matrix``.
    ValueError
        ``affinity`` is not a square, finite, non-negative matrix, or holds
        fewer nodes than ``n_clusters`` or ``n_components``.

    Examples
    --------
    >>> from scipy import sparse
    >>> block = np.ones((3, 3))
    >>> affinity = sparse.block_diag([block, block]).tolil()
    >>> affinity[2, 3] = affinity[3, 2] = 0.01
    >>> spectral_clustering(affinity, 2)
    array([0, 0, 0, 1, 1, 1])
    >>> spectral_clustering(affinity, n_clusters=2, eigen_solver="arpack",
    ...                     assign_labels="discretize", random_state=0)
    array([1, 1, 1, 0, 0, 0])
    """
    try:
        options = _check_options(
            n_clusters=n_clusters, n_components=n_components, eigen_solver=eigen_solver,
            n_init=n_init, eigen_tol=eigen_tol, assign_labels=assign_labels, verbose=verbose,
            solver=solver, assign=assign, refine=refine, tol=tol,
        )
        rng = check_random_state(random_state)
    except (TypeError, ValueError) as error:
        raise _invalid_parameter(error) from error
    check_not_np_matrix(affinity)
    n_vectors = options["n_components"] or options["n_clusters"]
    with job_memory(_touched_bytes(affinity, n_vectors, options["solver"])):
        affinity = check_affinity(affinity)
        n_nodes = affinity.shape[0]
        n_clusters = check_n_segments(options["n_clusters"], n_nodes, name="n_clusters")
        if n_vectors > n_nodes:
            raise ValueError(
                f"n_components={n_vectors} is more than the {n_nodes} nodes of the graph; "
                f"ask for at most {n_nodes}."
            )
        return _cluster(affinity, n_clusters, solver=options["solver"],
                        assign=options["assign"], refine=options["refine"],
                        tol=options["tol"], rng=rng, n_components=options["n_components"],
                        n_init=options["n_init"], verbose=options["verbose"])[0]


def _check_options(*, n_clusters, n_components, eigen_solver, n_init, eigen_tol, assign_labels,
                   verbose, solver, assign, refine, tol):
    """Check ``spectral_clustering``'s options (no data needed), scikit-learn's
    names merged into ours: a scikit-learn name left at its default defers to
    ours, and the two may not disagree."""
    n_clusters = check_n_segments(n_clusters, None, name="n_clusters")
    if n_components is not None:
        n_components = check_n_segments(n_components, None, name="n_components")
    check_option("solver", solver, SOLVERS)
    if eigen_solver is not None:
        solver = _merge("eigen_solver", check_option("eigen_solver", eigen_solver, SOLVERS),
                        "solver", solver, "auto")
    check_option("assignment method", assign, ASSIGN_METHODS)
    if assign_labels is not None:
        assign = _merge("assign_labels",
                        check_option("assign_labels", assign_labels, ASSIGN_METHODS),
                        "assign", assign, "cluster_qr")
    if isinstance(n_init, bool) or not isinstance(n_init, numbers.Integral):
        raise TypeError(f"n_init must be an integer, got {type(n_init).__name__} {n_init!r}.")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}.")
    if tol is not None:
        tol = check_positive_float("tol", tol, allow_zero=True)
    if not (isinstance(eigen_tol, str) and eigen_tol == "auto"):
        if isinstance(eigen_tol, str):
            raise ValueError(f"eigen_tol must be 'auto' or a number >= 0, got {eigen_tol!r}.")
        tol = _merge("eigen_tol", check_positive_float("eigen_tol", eigen_tol, allow_zero=True),
                     "tol", tol, None)
    for name, flag in (("verbose", verbose), ("refine", refine)):
        if not isinstance(flag, bool | numbers.Integral):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__} {flag!r}.")
    return {"n_clusters": n_clusters, "n_components": n_components, "solver": solver,
            "assign": assign, "n_init": int(n_init), "tol": tol, "verbose": bool(verbose),
            "refine": bool(refine)}


def _invalid_parameter(error):
    """scikit-learn's error for a bad parameter, with ``error``'s message.

    scikit-learn refuses a bad parameter of ``spectral_clustering`` with an
    ``InvalidParameterError``, which is both a ``ValueError`` and a
    ``TypeError``; raising it keeps code that catches either one working.

    Parameters
    ----------
    error : TypeError or ValueError
        The error of the check that refused the parameter.

    Returns
    -------
    sklearn.utils._param_validation.InvalidParameterError
    """
    # imported here: ``import specseg`` does not load scikit-learn
    try:
        from sklearn.utils._param_validation import InvalidParameterError
    except ImportError:  # pragma: no cover - a scikit-learn without it
        return error
    return InvalidParameterError(str(error))


def _merge(sk_name, sk_value, our_name, our_value, our_default):
    """The value of an option given under scikit-learn's name and under ours."""
    if our_value != our_default and our_value != sk_value:
        raise ValueError(
            f"{sk_name}={sk_value!r} and {our_name}={our_value!r} disagree; they are two "
            f"names of one option, pass only one of them."
        )
    return sk_value


def _cluster(
    affinity, n_clusters, *, solver, assign, refine, tol, rng, stages=None, max_auto=16,
    n_components=None, n_init=10, verbose=False,
):
    """Embed, assign and refine a graph; returns ``(labels, embedding result)``.

    ``n_clusters="auto"`` embeds ``max_auto + 1`` eigenvectors and keeps the
    number at the largest eigengap (:func:`choose_n_segments`); the result's
    eigenvalues and embedding are then cut to that number. ``stages`` is an
    optional stage clock (see ``_segment._StageClock``). ``n_components``
    eigenvectors are embedded (default ``n_clusters``); ``n_init`` and ``verbose``
    go to the "kmeans" assignment.
    """
    stage = stages if stages is not None else _no_stage
    n_nodes = affinity.shape[0]
    with stage("embedding"):
        if n_clusters == "auto":
            result = _embed(affinity, min(max_auto + 1, n_nodes), solver=solver, tol=tol,
                            rng=rng)
            n_clusters = choose_n_segments(result.eigenvalues)
            result.embedding = result.embedding[:, :n_clusters]
            result.eigenvalues = result.eigenvalues[:n_clusters]
            result.residuals = result.residuals[:n_clusters]
        else:
            result = _embed(affinity, n_components or n_clusters, solver=solver, tol=tol,
                            rng=rng)
    if verbose:
        print(f"Computing label assignment using {assign}")
    with stage("assignment"):
        # small products on tall blocks and one QR: several BLAS threads only wait
        # on each other (see _embedding._blas_threads_for). On every graph, not
        # only large ones, so that the labels do not depend on the BLAS threads
        # of the calling thread: the QR's last bits do, and on a near tie (a
        # 16 x 16 image of tests/test_concurrency.py) a call from a worker
        # thread once labelled 9 pixels otherwise than the same call alone
        with single_threaded_blas():
            labels = _assign(result.embedding, n_clusters, method=assign, rng=rng,
                             n_init=n_init, verbose=verbose)
        labels = separate_components(affinity, labels, n_clusters, result.n_components)
    if refine and n_clusters > 1:
        with stage("refinement"):
            labels = _refine(affinity, labels)
            labels = separate_components(affinity, labels, n_clusters, result.n_components)
    return labels, result


#: Eigenvalues below about this are treated as zero by the eigengap (solver noise).
EIGENGAP_FLOOR = 1e-9


def choose_n_segments(eigenvalues, *, floor=EIGENGAP_FLOOR):
    """The number of segments at the largest relative eigengap.

    Parameters
    ----------
    eigenvalues : (m,) array_like
        The smallest eigenvalues of the normalized Laplacian, ascending.
    floor : float, optional
        Added to every eigenvalue, so that numerically zero eigenvalues
        (one per disconnected or nearly disconnected segment) compare equal.

    Returns
    -------
    k : int
        ``argmax_k log((lambda_{k+1} + floor) / (lambda_k + floor))`` over
        ``k = 2 .. m - 1`` (1 when ``m < 3``). One segment is never chosen:
        the first ratio compares the trivial eigenvalue 0 with the floor and
        would win on any connected graph.

    Notes
    -----
    The eigenvalues of weakly linked clusters are orders of magnitude smaller
    than those inside a cluster, while the latter can be small in absolute
    terms (a large smooth background has a small Fiedler value). The ratio of
    consecutive eigenvalues, not their difference, finds that jump.

    Examples
    --------
    >>> choose_n_segments([0.0, 1e-12, 2e-11, 3e-4, 5e-4, 1e-3])
    3
    >>> choose_n_segments([0.0, 1e-4, 2e-4, 3e-2, 4e-2])
    3
    """
    eigenvalues = np.maximum(np.asarray(eigenvalues, dtype=np.float64), 0.0)
    if eigenvalues.size < 3:
        return 1
    gaps = np.diff(np.log(eigenvalues + floor))[1:]
    return int(np.argmax(gaps)) + 2



def _no_stage(name):
    return nullcontext()


def canonical_labels(labels):
    """Renumber labels ``>= 0`` by order of first appearance in raster order.

    Negative labels (outside the mask) are kept as they are.

    Examples
    --------
    >>> canonical_labels(np.array([[5, 5, 2], [-1, 7, 2]]))
    array([[ 0,  0,  1],
           [-1,  2,  1]])
    """
    labels = np.asarray(labels)
    flat = labels.ravel()
    if flat.dtype.kind in "iu" and flat.size:
        out = _canonical_small_labels(flat)
        if out is not None:
            return out.reshape(labels.shape)
    inside = flat >= 0
    values, first, inverse = np.unique(flat[inside], return_index=True, return_inverse=True)
    rank = np.empty(values.size, dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(values.size)
    out = np.full(flat.shape, -1, dtype=np.intp)
    out[inside] = rank[inverse.ravel()]
    return out.reshape(labels.shape)


#: ``canonical_labels`` finds first appearances value by value (one pass each,
#: instead of sorting all labels) when there are at most this many values ...
_FEW_LABELS = 64
#: ... all below this bound.
_SMALL_LABEL_BOUND = 2**16


def _canonical_small_labels(flat):
    """``canonical_labels`` of flat integer labels with a few small values, or None."""
    high, low = int(flat.max()), int(flat.min())
    if high >= _SMALL_LABEL_BOUND:
        return None
    counts = np.bincount(flat[flat >= 0] if low < 0 else flat, minlength=max(high + 1, 0))
    values = np.flatnonzero(counts)
    if values.size > _FEW_LABELS:
        return None
    first = np.array([np.argmax(flat == value) for value in values], dtype=np.intp)
    # table[v + 1] is the new label of v; every negative label becomes -1
    table = np.full(max(high + 2, 2), -1, dtype=np.intp)
    table[values[np.argsort(first, kind="stable")] + 1] = np.arange(values.size)
    if low >= 0:
        return table[1:][flat]
    return table[np.maximum(flat, -1) + 1]

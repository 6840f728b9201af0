"""Affinity graph -> labels: the drop-in ``spectral_clustering``."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from ._allocator import job_memory
from ._assign import ASSIGN_METHODS, assign_labels
from ._components import separate_components
from ._embedding import SOLVERS, _embed, _touched_bytes
from ._parallel import single_threaded_blas
from ._refine import refine_ncut
from ._validation import check_affinity, check_n_segments, check_option, check_random_state

__all__ = ["spectral_clustering"]


def spectral_clustering(
    affinity,
    n_clusters=8,
    *,
    solver="auto",
    assign="cluster_qr",
    refine=True,
    tol=None,
    random_state=None,
):
    """Partition a graph by the normalized cut (spectral clustering).

    A drop-in for :func:`sklearn.cluster.spectral_clustering` on a sparse
    symmetric affinity matrix: it accepts what scikit-learn accepts, including
    ``sklearn.feature_extraction.image.img_to_graph`` output with its diagonal
    (self-loops are ignored, as they do not change a normalized cut).

    Parameters
    ----------
    affinity : (n, n) sparse matrix or ndarray
        Symmetric non-negative affinities.
    n_clusters : int, optional
        Number of clusters.
    solver : {"auto", "arpack", "lobpcg", "amg", "dense"}, optional
        Eigensolver, see :func:`spectral_embedding`.
    assign : {"cluster_qr", "kmeans", "discretize"}, optional
        Label assignment, see :func:`assign_labels`.
    refine : bool, optional
        Polish the labels by local moves that lower the normalized cut
        (:func:`refine_ncut`); the objective never rises.
    tol : float, optional
        Eigensolver tolerance.
    random_state : None, int or numpy.random.Generator, optional
        Seeds every random choice. The same value gives the same labels.

    Returns
    -------
    labels : (n,) ndarray of int
        Cluster labels in ``0 .. n_clusters - 1``.

    Examples
    --------
    >>> from scipy import sparse
    >>> block = np.ones((3, 3))
    >>> affinity = sparse.block_diag([block, block]).tolil()
    >>> affinity[2, 3] = affinity[3, 2] = 0.01
    >>> spectral_clustering(affinity, 2)
    array([0, 0, 0, 1, 1, 1])
    """
    check_option("solver", solver, SOLVERS)
    check_option("assignment method", assign, ASSIGN_METHODS)
    rng = check_random_state(random_state)
    with job_memory(_touched_bytes(affinity, n_clusters, solver)):
        affinity = check_affinity(affinity)
        n_clusters = check_n_segments(n_clusters, affinity.shape[0], name="n_clusters")
        return _cluster(affinity, n_clusters, solver=solver, assign=assign, refine=refine,
                        tol=tol, rng=rng)[0]


def _cluster(
    affinity, n_clusters, *, solver, assign, refine, tol, rng, stages=None, max_auto=16
):
    """Embed, assign and refine a graph; returns ``(labels, embedding result)``.

    ``n_clusters="auto"`` embeds ``max_auto + 1`` eigenvectors and keeps the
    number at the largest eigengap (:func:`choose_n_segments`); the result's
    eigenvalues and embedding are then cut to that number. ``stages`` is an
    optional stage clock (see ``_segment._StageClock``).
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
            result = _embed(affinity, n_clusters, solver=solver, tol=tol, rng=rng)
    with stage("assignment"):
        # small products on tall blocks and one QR: several BLAS threads only wait
        # on each other (see _embedding._blas_threads_for); not worth setting up
        # for small graphs
        large = result.embedding.shape[0] >= 100_000
        with single_threaded_blas() if large else nullcontext():
            labels = assign_labels(result.embedding, n_clusters, method=assign,
                                   random_state=rng)
        labels = separate_components(affinity, labels, n_clusters, result.n_components)
    if refine and n_clusters > 1:
        with stage("refinement"):
            labels = refine_ncut(affinity, labels)
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

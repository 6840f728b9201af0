"""Scores of a segmentation: the normalized-cut objective and agreement with truth."""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage, sparse

from ._validation import check_affinity

__all__ = ["adjusted_rand_score", "boundary_f1", "ncut_value", "variation_of_information"]


def ncut_value(affinity, labels):
    """The k-way normalized cut of a labelling.

    .. math::

        \\mathrm{Ncut}(A_1, \\dots, A_k) = \\sum_{j} \\frac{\\mathrm{cut}(A_j, V \\setminus A_j)}
        {\\mathrm{vol}(A_j)}

    with ``vol(A) = sum of degrees in A``. Self-loops are ignored; a segment of
    zero volume contributes 0. Lower is better; the value lies in ``[0, k]``.

    Parameters
    ----------
    affinity : (n, n) sparse matrix or ndarray
        Symmetric non-negative affinities.
    labels : (n,) array_like of int
        One label per node (any integers; negative labels count as a segment too).

    Returns
    -------
    ncut : float

    Examples
    --------
    >>> W = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float)
    >>> ncut_value(W, [0, 0, 1])
    1.3333333333333333
    """
    affinity = check_affinity(affinity)
    labels = np.asarray(labels).ravel()
    if labels.shape[0] != affinity.shape[0]:
        raise ValueError(
            f"labels has {labels.shape[0]} entries but the graph has {affinity.shape[0]} nodes."
        )
    return _ncut(affinity, labels)


def _ncut(affinity, labels):
    """:func:`ncut_value` of a graph already validated (symmetric CSR, no self-loops)."""
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.ravel()
    k = int(codes.max()) + 1
    coo = affinity.tocoo()
    degree = np.bincount(coo.row, coo.data, minlength=affinity.shape[0])
    volume = np.bincount(codes, degree, minlength=k)
    same = codes[coo.row] == codes[coo.col]
    within = np.bincount(codes[coo.row[same]], coo.data[same], minlength=k)
    cut = volume - within
    nonzero = volume > 0
    return float(np.sum(cut[nonzero] / volume[nonzero]))


def adjusted_rand_score(labels_true, labels_pred):
    """Adjusted Rand index of two labellings (scikit-learn's), on flattened arrays.

    Examples
    --------
    >>> adjusted_rand_score([[0, 0], [1, 1]], [[5, 5], [3, 3]])
    1.0
    """
    from sklearn.metrics import adjusted_rand_score as _ari

    return float(_ari(np.ravel(labels_true), np.ravel(labels_pred)))


def _paired(labels_true, labels_pred):
    truth = np.asarray(labels_true)
    pred = np.asarray(labels_pred)
    if truth.shape != pred.shape:
        raise ValueError(
            f"labellings have different shapes {truth.shape} and {pred.shape}; they must match."
        )
    if truth.size == 0:
        raise ValueError("labellings are empty.")
    return truth, pred


def variation_of_information(labels_true, labels_pred):
    """Variation of information between two labellings (Meila 2007), in nats.

    .. math::

        \\mathrm{VI}(X, Y) = H(X \\mid Y) + H(Y \\mid X)
                          = H(X) + H(Y) - 2 I(X; Y)

    A metric on partitions: 0 for identical partitions (whatever the label
    ids), larger is worse, at most ``log(n)`` for ``n`` pixels. Every label,
    including negative ones, is a segment; select pixels first to ignore some.

    Parameters
    ----------
    labels_true, labels_pred : array_like of int
        Two labellings of the same shape (any number of dimensions).

    Returns
    -------
    vi : float

    References
    ----------
    .. [1] M. Meila, "Comparing clusterings -- an information based distance",
           J. Multivariate Analysis 98(5), 2007. :doi:`10.1016/j.jmva.2006.11.013`

    Examples
    --------
    >>> variation_of_information([0, 0, 1, 1], [7, 7, 3, 3])
    0.0
    >>> round(variation_of_information([0, 0, 1, 1], [0, 0, 0, 0]), 4)  # log 2
    0.6931
    """
    truth, pred = _paired(labels_true, labels_pred)
    _, a = np.unique(truth.ravel(), return_inverse=True)
    _, b = np.unique(pred.ravel(), return_inverse=True)
    a, b = a.ravel(), b.ravel()
    n = a.size
    joint = sparse.coo_array((np.ones(n), (a, b))).tocsr()
    joint.sum_duplicates()
    p_joint = joint.data / n
    p_a = np.bincount(a) / n
    p_b = np.bincount(b) / n
    h_a = -np.sum(p_a * np.log(p_a))
    h_b = -np.sum(p_b * np.log(p_b))
    h_joint = -np.sum(p_joint * np.log(p_joint))
    return float(max(2.0 * h_joint - h_a - h_b, 0.0))


def _boundaries(labels):
    """Pixels whose label differs from the next pixel along some axis (one-sided, thin)."""
    edge = np.zeros(labels.shape, dtype=bool)
    for axis in range(labels.ndim):
        lo = [slice(None)] * labels.ndim
        hi = [slice(None)] * labels.ndim
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        edge[tuple(lo)] |= labels[tuple(lo)] != labels[tuple(hi)]
    return edge


def boundary_f1(labels_true, labels_pred, *, tolerance=2):
    """F1 score of segment boundaries matched within a pixel tolerance.

    A pixel is a boundary pixel when its label differs from that of the next
    pixel along some axis. A predicted boundary pixel is correct when a true
    boundary pixel lies within Euclidean distance ``tolerance`` of it
    (precision); a true boundary pixel is found when a predicted one lies within
    ``tolerance`` (recall). The score is ``2 P R / (P + R)``; 1 when neither
    labelling has a boundary, 0 when only one has.

    Parameters
    ----------
    labels_true, labels_pred : (M, N[, P]) array_like of int
        Two labellings of the same shape.
    tolerance : float, optional
        Largest distance, in pixels, at which boundaries still match.

    Returns
    -------
    f1 : float

    References
    ----------
    .. [1] D. Martin, C. Fowlkes and J. Malik, "Learning to detect natural image
           boundaries using local brightness, color, and texture cues",
           IEEE TPAMI 26(5), 2004. :doi:`10.1109/TPAMI.2004.1273918`

    Examples
    --------
    >>> truth = np.zeros((6, 6), int); truth[:, 3:] = 1
    >>> shifted = np.zeros((6, 6), int); shifted[:, 4:] = 1
    >>> boundary_f1(truth, shifted, tolerance=1), boundary_f1(truth, shifted, tolerance=0)
    (1.0, 0.0)
    """
    truth, pred = _paired(labels_true, labels_pred)
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not (
        np.isfinite(tolerance) and tolerance >= 0
    ):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}.")
    true_edge = _boundaries(truth)
    pred_edge = _boundaries(pred)
    n_true, n_pred = int(true_edge.sum()), int(pred_edge.sum())
    if n_true == 0 and n_pred == 0:
        return 1.0
    if n_true == 0 or n_pred == 0:
        return 0.0
    near_true = ndimage.distance_transform_edt(~true_edge) <= tolerance
    near_pred = ndimage.distance_transform_edt(~pred_edge) <= tolerance
    precision = np.count_nonzero(pred_edge & near_true) / n_pred
    recall = np.count_nonzero(true_edge & near_pred) / n_true
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))

"""Scores of a segmentation: the normalized-cut objective and agreement with truth."""

from __future__ import annotations

import numpy as np

from ._validation import check_affinity

__all__ = ["adjusted_rand_score", "ncut_value"]


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

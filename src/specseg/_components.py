"""Labels that respect the connected components of a graph.

When a graph has ``c`` connected components and ``k >= c`` segments are asked
for, no segment should span two components: the normalized cut of such a
partition can always be lowered by splitting the segment. The eigenvectors
guarantee it for well-sized components, but an assignment by k-means or
rotation can still group a tiny component (an isolated pixel, whose row of the
embedding is a lone point) with part of another. :func:`separate_components`
repairs this: it splits every segment along component boundaries, then merges
segments *within* one component, greedily by the smallest rise of the
normalized cut, until ``k`` remain.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["separate_components"]


def separate_components(affinity, labels, n_clusters, n_components=None):
    """Return ``labels`` with no label spanning two connected components.

    Parameters
    ----------
    affinity : (n, n) scipy.sparse.csr_array
        Validated affinities (symmetric, non-negative, no self-loops).
    labels : (n,) ndarray of int
        Labels in ``0 .. n_clusters - 1``.
    n_clusters : int
        Number of labels wanted.
    n_components : int, optional
        Number of connected components if already known (1 returns at once).

    Returns
    -------
    labels : (n,) ndarray of int
        Unchanged when the graph is connected, has more components than
        ``n_clusters``, or no label spans two components; otherwise labels in
        ``0 .. n_clusters - 1``, each inside one component.

    Examples
    --------
    >>> from scipy import sparse
    >>> W = sparse.csr_array(np.array([[0, 1, 0, 0], [1, 0, 0, 0],
    ...                                 [0, 0, 0, 0], [0, 0, 0, 0.]]))
    >>> separate_components(W, np.array([0, 1, 0, 2]), 3)
    array([0, 0, 1, 2])
    """
    if n_components == 1:
        return labels
    n_comp, comp = csgraph.connected_components(affinity, directed=False)
    if n_comp == 1 or n_comp > n_clusters:
        return labels
    pairs, split = np.unique(labels * n_comp + comp, return_inverse=True)
    if pairs.size == np.unique(labels).size:
        return labels
    owner = pairs % n_comp
    n = labels.size
    rows = np.repeat(np.arange(n), np.diff(affinity.indptr))
    m = pairs.size
    between = sparse.coo_array(
        (affinity.data, (split[rows], split[affinity.indices])), shape=(m, m)
    ).toarray()
    volume = between.sum(axis=1)
    alive = list(range(m))
    while len(alive) > n_clusters:
        best = None
        for i, a in enumerate(alive):
            for b in alive[i + 1 :]:
                if owner[a] != owner[b]:
                    continue
                vol = volume[a] + volume[b]
                cut = vol - between[a, a] - between[b, b] - 2 * between[a, b]
                rise = _term(cut, vol) - _term(volume[a] - between[a, a], volume[a]) - _term(
                    volume[b] - between[b, b], volume[b]
                )
                if best is None or rise < best[0] - 1e-15:
                    best = (rise, a, b)
        _, a, b = best
        between[a, :] += between[b, :]
        between[:, a] += between[:, b]
        volume[a] += volume[b]
        split[split == b] = a
        alive.remove(b)
    rank = np.full(m, -1, dtype=np.intp)
    rank[alive] = np.arange(len(alive))
    return rank[split]


def _term(cut, volume):
    """``cut / vol`` of one segment; a segment of isolated nodes (volume 0) costs 0."""
    return cut / volume if volume > 0 else 0.0

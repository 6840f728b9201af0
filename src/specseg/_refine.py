"""Labels + graph -> better labels: greedy local descent on the normalized cut.

Rounding a relaxed spectral solution to labels leaves the k-way normalized cut
above what small boundary moves can reach. After the assignment we therefore
run a few rounds of parallel, conflict-free single-node moves, as the
refinement phase of multilevel partitioners does (Dhillon, Guan & Kulis 2007).

Writing ``assoc(A) = sum_{i, j in A} w_ij`` and ``vol(A) = sum_{i in A} d_i``,

.. math::

    \\mathrm{Ncut} = \\sum_A \\frac{\\mathrm{cut}(A)}{\\mathrm{vol}(A)}
                 = k - \\sum_A \\frac{\\mathrm{assoc}(A)}{\\mathrm{vol}(A)} .

Moving node ``i`` (degree ``d_i``, with ``w_iA`` its weight into ``A``) from
``A`` to ``B`` changes ``assoc(A)`` by ``-2 w_iA``, ``vol(A)`` by ``-d_i``,
``assoc(B)`` by ``+2 w_iB`` and ``vol(B)`` by ``+d_i``, so its gain is exact
and local. Each round moves every boundary node whose best gain is positive and
larger than that of any moving neighbour; the round is kept only if the
objective really fell.

References
----------
.. [1] I. S. Dhillon, Y. Guan and B. Kulis, "Weighted graph cuts without
       eigenvectors: a multilevel approach", IEEE TPAMI 29(11), 2007.
       :doi:`10.1109/TPAMI.2007.1115`
"""

from __future__ import annotations

import numpy as np

from ._parallel import map_chunks

__all__ = ["refine_ncut"]


def refine_ncut(affinity, labels, *, max_rounds=20):
    """Lower the k-way normalized cut of ``labels`` by local node moves.

    Parameters
    ----------
    affinity : (n, n) sparse matrix or ndarray
        Symmetric non-negative affinities, checked as by :func:`spectral_clustering`
        (self-loops are ignored).
    labels : (n,) array_like of int
        Labels in ``0 .. k - 1``.
    max_rounds : int, optional
        Upper bound on the number of rounds of moves.

    Returns
    -------
    labels : (n,) ndarray of int
        Labels whose normalized cut is no larger than that of the input; no
        label is emptied.

    Examples
    --------
    >>> from scipy import sparse
    >>> W = sparse.csr_array(np.array([[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0.1],
    ...                                 [0, 0, 0.1, 0]]))
    >>> refine_ncut(W, np.array([0, 0, 1, 1]))
    array([0, 0, 0, 1])
    """
    from ._validation import check_affinity

    affinity = check_affinity(affinity)
    labels = np.asarray(labels)
    if labels.shape != (affinity.shape[0],):
        raise ValueError(
            f"labels must hold one label per node: got shape {labels.shape} for a graph of "
            f"{affinity.shape[0]} nodes."
        )
    if labels.dtype.kind not in "biu":
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}.")
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must lie in 0 .. k - 1, got {labels.min()}.")
    return _refine(affinity, labels, max_rounds=max_rounds)


def _refine(affinity, labels, *, max_rounds=20):
    """:func:`refine_ncut` on a validated graph (symmetric CSR, no self-loops)."""
    labels = np.asarray(labels, dtype=np.intp).copy()
    n = labels.size
    k = int(labels.max()) + 1 if n else 0
    if k < 2:
        return labels
    graph = _Edges(affinity)
    inner, on_boundary = graph.split_by_labels(labels)  # weight to the own label, per node
    assoc = np.bincount(labels, inner, minlength=k)
    volume = np.bincount(labels, graph.degree, minlength=k)
    counts = np.bincount(labels, minlength=k)
    objective = _ratio(assoc, volume)
    for _ in range(max_rounds):
        move = _best_moves(labels, graph, assoc, volume, k, np.flatnonzero(on_boundary))
        if move is None:
            break
        nodes, sources, targets, w_source, w_target = move
        # the moved nodes are pairwise non-adjacent, so these updates are exact
        new_assoc = assoc - 2 * np.bincount(sources, w_source, minlength=k)
        new_assoc += 2 * np.bincount(targets, w_target, minlength=k)
        d = graph.degree[nodes]
        new_volume = volume - np.bincount(sources, d, minlength=k)
        new_volume += np.bincount(targets, d, minlength=k)
        new_counts = counts - np.bincount(sources, minlength=k) + np.bincount(targets, minlength=k)
        new_objective = _ratio(new_assoc, new_volume)
        if new_counts.min() == 0 or new_objective <= objective * (1 + 1e-12):
            break
        labels[nodes] = targets
        assoc, volume, counts, objective = new_assoc, new_volume, new_counts, new_objective
        # only the moved nodes and their neighbours can enter or leave the boundary
        touched = np.unique(np.concatenate([nodes, graph.cols[graph.edges_of(nodes)]]))
        on_boundary[touched] = graph.crosses(labels, touched)
    return labels


class _Edges:
    """The directed edge list of a CSR graph, with degrees."""

    def __init__(self, affinity):
        self.indptr, self.cols, self.data = affinity.indptr, affinity.indices, affinity.data
        self.n = affinity.shape[0]
        self.degree = self._row_sums(self.data)

    def _row_sums(self, values):
        """Per node, the sum of ``values`` (one per stored edge) over its edges."""
        sums = np.empty(self.n)

        def work(a, b):
            lo, hi = self.indptr[a], self.indptr[b]
            owner = np.repeat(np.arange(b - a), np.diff(self.indptr[a : b + 1]))
            sums[a:b] = np.bincount(owner, values[lo:hi], minlength=b - a)

        map_chunks(self.n, work)
        return sums

    def split_by_labels(self, labels):
        """Per node, its edge weight to nodes of its own label, and whether it has a
        neighbour with another label; in parallel row chunks."""
        inner = np.empty(self.n)
        boundary = np.empty(self.n, dtype=bool)

        def work(a, b):
            lo, hi = self.indptr[a], self.indptr[b]
            owner = np.repeat(np.arange(b - a), np.diff(self.indptr[a : b + 1]))
            same = labels[self.cols[lo:hi]] == labels[a:b][owner]
            inner[a:b] = np.bincount(owner, np.where(same, self.data[lo:hi], 0.0),
                                     minlength=b - a)
            boundary[a:b] = np.bincount(owner[~same], minlength=b - a) > 0

        map_chunks(self.n, work)
        return inner, boundary

    def edges_of(self, nodes):
        """Positions in the edge list of the edges leaving ``nodes``."""
        starts = self.indptr[nodes]
        lengths = self.indptr[nodes + 1] - starts
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return offsets + np.arange(int(lengths.sum()))

    def crosses(self, labels, nodes):
        """Whether each of ``nodes`` has a neighbour with another label."""
        edges = self.edges_of(nodes)
        owner = np.repeat(np.arange(nodes.size), self.indptr[nodes + 1] - self.indptr[nodes])
        crossing = labels[self.cols[edges]] != labels[nodes][owner]
        return np.bincount(owner[crossing], minlength=nodes.size) > 0


def _ratio(assoc, volume):
    """``sum_A assoc(A) / vol(A)``: k minus the normalized cut."""
    ok = volume > 0
    return float(np.sum(assoc[ok] / volume[ok]))


def _best_moves(labels, graph, assoc, volume, k, boundary):
    """A conflict-free set of improving moves of ``boundary`` nodes, or None.

    Returns ``(nodes, sources, targets, w_source, w_target)``: the nodes, their
    current and new labels, and their edge weight into each.
    """
    n = labels.size
    if boundary.size == 0:
        return None
    n_b = boundary.size
    edges = graph.edges_of(boundary)
    src = np.repeat(boundary, graph.indptr[boundary + 1] - graph.indptr[boundary])
    dst = graph.cols[edges]
    position = np.full(n, -1, dtype=np.intp)
    position[boundary] = np.arange(n_b)
    weight_to = np.bincount(
        position[src] * k + labels[dst], graph.data[edges], minlength=n_b * k
    ).reshape(n_b, k)

    own = labels[boundary]
    d = graph.degree[boundary]
    w_own = weight_to[np.arange(n_b), own]
    with np.errstate(divide="ignore", invalid="ignore"):
        remaining = volume[own] - d
        leave = np.where(remaining > 0, (assoc[own] - 2 * w_own) / remaining, 0.0)
        leave -= assoc[own] / volume[own]
        join = (assoc[None, :] + 2 * weight_to) / (volume[None, :] + d[:, None]) - (
            assoc / np.where(volume > 0, volume, 1)
        )[None, :]
    gain = leave[:, None] + join
    gain[np.arange(n_b), own] = -np.inf
    target = gain.argmax(axis=1)
    best = gain[np.arange(n_b), target]
    candidate = best > 1e-12 * max(1.0, abs(float(assoc.sum() / volume.sum())))
    if not candidate.any():
        return None
    # keep a node only if no candidate neighbour has a larger gain (ties: lower index
    # wins), so that no two moved nodes are adjacent
    node_gain = np.full(n, -np.inf)
    node_gain[boundary[candidate]] = best[candidate]
    g_src, g_dst = node_gain[src], node_gain[dst]
    beaten = np.isfinite(g_src) & ((g_dst > g_src) | ((g_dst == g_src) & (dst < src)))
    blocked = np.zeros(n, dtype=bool)
    blocked[src[beaten]] = True
    keep = np.flatnonzero(candidate & ~blocked[boundary])
    if keep.size == 0:
        return None
    rows = np.arange(n_b)[keep]
    return (
        boundary[keep],
        own[keep],
        target[keep],
        w_own[keep],
        weight_to[rows, target[keep]],
    )

import itertools

import numpy as np
import pytest
from scipy import sparse

from specseg import ncut_value, pixel_graph


def brute_force_ncut(W, labels):
    W = np.array(W, dtype=float)
    np.fill_diagonal(W, 0)
    total = 0.0
    for a in np.unique(labels):
        inside = labels == a
        vol = W[inside].sum()
        cut = W[np.ix_(inside, ~inside)].sum()
        total += cut / vol if vol > 0 else 0.0
    return total


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_ncut_matches_brute_force(k, rng):
    graph = pixel_graph(rng.random((5, 6)), connectivity=2)
    labels = rng.integers(0, k, graph.n_nodes)
    expected = brute_force_ncut(graph.affinity.toarray(), labels)
    assert ncut_value(graph.affinity, labels) == pytest.approx(expected, rel=1e-12)


def test_ncut_ignores_self_loops(rng):
    W = sparse.random(30, 30, density=0.2, random_state=0)
    W = W + W.T
    labels = rng.integers(0, 3, 30)
    with_loops = W + sparse.diags(rng.random(30))
    assert ncut_value(with_loops, labels) == pytest.approx(ncut_value(W, labels))


def test_ncut_is_label_permutation_invariant(rng):
    graph = pixel_graph(rng.random((6, 6)))
    labels = rng.integers(0, 3, graph.n_nodes)
    for perm in itertools.permutations(range(3)):
        permuted = np.asarray(perm)[labels]
        assert ncut_value(graph.affinity, permuted) == pytest.approx(
            ncut_value(graph.affinity, labels)
        )


def test_ncut_label_length_checked():
    with pytest.raises(ValueError, match="entries"):
        ncut_value(np.ones((3, 3)), [0, 1])

import numpy as np
import pytest

from specseg import ncut_value, pixel_graph, refine_ncut


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [2, 3, 5])
def test_refinement_never_raises_ncut(seed, k):
    rng = np.random.default_rng(seed)
    graph = pixel_graph(rng.random((12, 13)))
    labels = rng.integers(0, k, graph.n_nodes)
    labels[:k] = np.arange(k)
    refined = refine_ncut(graph.affinity, labels)
    assert ncut_value(graph.affinity, refined) <= ncut_value(graph.affinity, labels) + 1e-12
    assert set(np.unique(refined)) == set(range(k))


def test_refinement_fixes_a_misplaced_pixel():
    image = np.zeros((8, 8))
    image[:, 4:] = 1
    graph = pixel_graph(image)
    truth = (np.arange(64) % 8 >= 4).astype(int)
    noisy = truth.copy()
    noisy[[3, 12]] = 1 - noisy[[3, 12]]
    refined = refine_ncut(graph.affinity, noisy)
    np.testing.assert_array_equal(refined, truth)
    assert ncut_value(graph.affinity, refined) < ncut_value(graph.affinity, noisy)


def test_single_label_unchanged():
    graph = pixel_graph(np.zeros((3, 3)))
    np.testing.assert_array_equal(refine_ncut(graph.affinity, np.zeros(9, int)), 0)

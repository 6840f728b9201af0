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


def test_any_affinity_accepted_as_elsewhere():
    graph = pixel_graph(np.repeat([[0.0] * 4 + [1.0] * 4], 8, axis=0))
    truth = (np.arange(64) % 8 >= 4).astype(int)
    noisy = truth.copy()
    noisy[[3, 12]] = 1 - noisy[[3, 12]]
    dense = graph.affinity.toarray()
    np.fill_diagonal(dense, 1.0)  # self-loops are ignored, as elsewhere
    np.testing.assert_array_equal(refine_ncut(dense, noisy.tolist()), truth)


@pytest.mark.parametrize("labels, error, match", [
    (np.zeros(8, int), ValueError, r"one label per node: got shape \(8,\) for a graph of 9"),
    (np.zeros((3, 3), int), ValueError, "one label per node"),
    (np.array([0, 1, 1, 0, -1, 1, 0, 1, 0]), ValueError, r"0 \.\. k - 1, got -1"),
    (np.zeros(9), TypeError, "must be integers"),
])
def test_bad_labels_refused(labels, error, match):
    graph = pixel_graph(np.zeros((3, 3)))
    with pytest.raises(error, match=match):
        refine_ncut(graph.affinity, labels)

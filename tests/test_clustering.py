import warnings

import numpy as np
import pytest
from sklearn.cluster import spectral_clustering as sk_spectral_clustering
from sklearn.feature_extraction import image as sk_image
from sklearn.metrics import adjusted_rand_score

from specseg import canonical_labels, ncut_value, spectral_clustering
from specseg.datasets import four_circles


def seed_graph(draw):
    """The seed document's own affinity graph, built with scikit-learn."""
    img, mask, truth = four_circles(100, random_state=draw)
    graph = sk_image.img_to_graph(img, mask=mask)
    graph.data = np.exp(-graph.data / graph.data.std())
    return graph, truth[mask]


@pytest.mark.parametrize("draw", [0, 1, 2])
def test_drop_in_parity_with_sklearn(draw):
    graph, _ = seed_graph(draw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sk_spectral_clustering(graph, n_clusters=4, random_state=0)
    ours = spectral_clustering(graph, n_clusters=4, random_state=0)
    assert adjusted_rand_score(theirs, ours) >= 0.95
    assert ncut_value(graph, ours) <= 1.02 * ncut_value(graph, theirs)


def test_accepts_what_sklearn_accepts():
    graph, truth = seed_graph(0)
    for container in (graph.tocsr(), graph.tocoo(), graph.tocsc(), graph.toarray()):
        labels = spectral_clustering(container, 4, random_state=0)
        assert adjusted_rand_score(truth, labels) > 0.95


def test_self_loops_ignored():
    graph, _ = seed_graph(1)
    stripped = graph.tolil()
    stripped.setdiag(0)
    a = spectral_clustering(graph, 4, random_state=0)
    b = spectral_clustering(stripped.tocsr(), 4, random_state=0)
    np.testing.assert_array_equal(a, b)


def test_labels_in_range():
    graph, _ = seed_graph(2)
    labels = spectral_clustering(graph, 4)
    assert labels.dtype.kind == "i"
    assert set(np.unique(labels)) == {0, 1, 2, 3}


def test_permutation_invariance():
    graph, truth = seed_graph(0)
    graph = graph.tocsr()
    perm = np.random.default_rng(0).permutation(graph.shape[0])
    permuted = graph[perm][:, perm]
    a = spectral_clustering(graph, 4, random_state=0)
    b = spectral_clustering(permuted, 4, random_state=0)
    assert adjusted_rand_score(a[perm], b) >= 0.99


def test_float32_matches_float64():
    graph, _ = seed_graph(0)
    a = spectral_clustering(graph, 4, random_state=0)
    b = spectral_clustering(graph.astype(np.float32), 4, random_state=0)
    assert adjusted_rand_score(a, b) >= 0.99


def test_asymmetric_affinity_is_symmetrised_with_warning():
    W = np.array([[0, 1, 0.1], [0.9, 0, 0.1], [0.1, 0.1, 0]])
    with pytest.warns(UserWarning, match="not symmetric"):
        labels = spectral_clustering(W, 2)
    assert labels[0] == labels[1] != labels[2]


def test_negative_affinity_refused():
    with pytest.raises(ValueError, match="negative"):
        spectral_clustering(np.array([[0, -1.0], [-1.0, 0]]), 1)


def _reference_canonical(labels):
    """Renumbering by first appearance, written the slow obvious way."""
    flat = np.asarray(labels).ravel()
    order = {}
    for value in flat:
        if value >= 0 and value not in order:
            order[value] = len(order)
    return np.array([order.get(v, -1) if v >= 0 else -1 for v in flat]).reshape(np.shape(labels))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "high, dtype",
    [(8, np.int64), (8, np.int32), (8, np.uint8), (200, np.int64), (70_000, np.int64),
     (40, np.uint64)],
)
def test_canonical_labels_matches_first_appearance_order(seed, high, dtype):
    # few small values (counted value by value), many values or large ones (sorted)
    rng = np.random.default_rng(seed)
    low = 0 if np.dtype(dtype).kind == "u" else -3
    labels = rng.integers(low, high, size=(37, 23)).astype(dtype)
    result = canonical_labels(labels)
    np.testing.assert_array_equal(result, _reference_canonical(labels))
    assert result.dtype == np.intp and result.shape == labels.shape

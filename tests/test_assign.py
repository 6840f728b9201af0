import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from specseg import assign_labels

METHODS = ["cluster_qr", "kmeans", "discretize"]


def blobs(n_per=50, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(k) * 3
    points = np.vstack([c + 0.2 * rng.standard_normal((n_per, k)) for c in centres])
    truth = np.repeat(np.arange(k), n_per)
    return points, truth


@pytest.mark.parametrize("method", METHODS)
def test_recovers_separated_clusters(method):
    points, truth = blobs()
    labels = assign_labels(points, 4, method=method, random_state=0)
    assert adjusted_rand_score(truth, labels) == 1.0
    assert labels.min() == 0 and labels.max() == 3


@pytest.mark.parametrize("method", METHODS)
def test_invariant_to_rotation_and_row_scaling(method, rng):
    points, truth = blobs(seed=1)
    rotation, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    scaled = (points @ rotation) * rng.uniform(0.5, 2.0, (points.shape[0], 1))
    labels = assign_labels(scaled, 4, method=method, random_state=0)
    assert adjusted_rand_score(truth, labels) == 1.0


@pytest.mark.parametrize("method", METHODS)
def test_deterministic(method):
    points, _ = blobs(seed=2)
    points = points + np.random.default_rng(3).standard_normal(points.shape)
    a = assign_labels(points, 4, method=method, random_state=5)
    b = assign_labels(points, 4, method=method, random_state=5)
    np.testing.assert_array_equal(a, b)


def test_one_cluster():
    np.testing.assert_array_equal(assign_labels(np.ones((5, 2)), 1), 0)


def test_bad_method():
    with pytest.raises(ValueError, match="Valid assignment methods are 'cluster_qr'"):
        assign_labels(np.ones((5, 2)), 2, method="spectral")

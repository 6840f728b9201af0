import numpy as np
import pytest
from scipy import linalg
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


# --- fast paths against straightforward references ------------------------------------------


def layouts(values):
    """``values`` in the memory layouts an embedding may come in."""
    wide = np.hstack([values, values])
    return {
        "C": values,
        "F": np.asfortranarray(values),
        "column slice": wide[:, : values.shape[1]],
        "strided rows": np.repeat(values, 3, axis=0)[::3],
        "reversed rows": values[::-1],
    }


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 9, 16, 17, 130])
def test_row_norms_match_numpy_to_the_last_bit(k, rng):
    # the CPQR pivots are decided among unit rows by these bits
    from specseg._assign import _row_norms

    values = rng.standard_normal((300, k)) * rng.uniform(1e-3, 1e3, (300, 1))
    for name, vectors in layouts(values).items():
        np.testing.assert_array_equal(
            _row_norms(vectors), np.linalg.norm(vectors, axis=1), err_msg=name
        )
    single = values[:1]
    np.testing.assert_array_equal(_row_norms(single), np.linalg.norm(single, axis=1))


def reference_nearest(vectors, centres):
    empty = np.isnan(centres).any(axis=1)
    safe = np.where(empty[:, None], 0.0, centres)
    scores = vectors @ safe.T - 0.5 * np.einsum("ij,ij->i", safe, safe)
    scores[:, empty] = -np.inf
    return scores.argmax(axis=1)


def test_nearest_centre_matches_argmax_with_ties_and_empty_clusters(monkeypatch, rng):
    from specseg import _assign

    monkeypatch.setattr(_assign, "BLOCK_ROWS", 7)  # several blocks and a partial one
    vectors = rng.standard_normal((100, 4))
    centres = rng.standard_normal((6, 4))
    centres[3] = centres[1]  # exact ties go to the first
    centres[4] = np.nan  # an empty cluster is never chosen
    vectors[:5] = centres[1]
    labels = _assign._nearest_centre(vectors, centres)
    np.testing.assert_array_equal(labels, reference_nearest(vectors, centres))
    assert labels.dtype == np.intp and labels.shape == (100,)
    assert (labels[:5] == 1).all() and not (labels == 4).any()


def reference_cluster_qr(embedding, k, sample_rows):
    """The cluster_qr assignment written out plainly (dense argmax, per-cluster means)."""
    vectors = embedding[:, :k]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    rows = vectors / norms
    sample = rows[:: -(-rows.shape[0] // sample_rows)]
    _, _, pivots = linalg.qr(sample.T, pivoting=True, mode="economic")
    left, _, right = linalg.svd(sample[pivots[:k]].T)
    labels = np.abs(sample @ (left @ right)).argmax(axis=1)

    def means(labels):
        out = np.full((k, sample.shape[1]), np.nan)
        for j in range(k):
            if (labels == j).any():
                out[j] = sample[labels == j].sum(axis=0) / (labels == j).sum()
        return out

    centres = np.zeros((k, sample.shape[1]))
    for _ in range(50):
        current = means(labels)
        empty = np.isnan(current).any(axis=1)
        centres[~empty] = current[~empty]
        new = reference_nearest(sample, np.where(empty[:, None], np.nan, centres))
        if np.array_equal(new, labels):
            break
        labels = new
    return reference_nearest(rows, means(labels))


@pytest.mark.parametrize("k", [2, 3, 5, 8])
@pytest.mark.parametrize("layout", ["C", "F", "column slice"])
def test_cluster_qr_matches_reference(k, layout, monkeypatch):
    from specseg import _assign

    monkeypatch.setattr(_assign, "SAMPLE_ROWS", 700)  # sampled: stride 3
    monkeypatch.setattr(_assign, "BLOCK_ROWS", 256)
    rng = np.random.default_rng(k)
    centres = 3 * rng.standard_normal((k, k + 1))
    points = centres[rng.integers(0, k, 2000)] + rng.standard_normal((2000, k + 1))
    points = layouts(points)[layout]
    labels = assign_labels(points, k)
    np.testing.assert_array_equal(labels, reference_cluster_qr(points, k, 700))
    assert labels.dtype == np.intp


def test_kmeans_starts_on_a_sample_of_many_rows(monkeypatch, capsys):
    import specseg._assign as assign_module

    # overlapping clusters, so that the sample's centres are not already final
    points, truth = _overlapping_blobs(n_per=400, seed=2)
    full, runs = _kmeans_runs(assign_module, points, capsys)
    assert runs == 3
    monkeypatch.setattr(assign_module, "SAMPLE_ROWS", 200)
    sampled, runs = _kmeans_runs(assign_module, points, capsys)
    # three starts on the sample, then one run over every row from their best centres
    assert runs == 4
    _assert_sample_as_good(full, sampled, truth)


def _overlapping_blobs(n_per, seed):
    """Four blobs of ``n_per`` points, blurred so that they overlap."""
    points, truth = blobs(n_per=n_per, k=4, seed=seed)
    points += 0.8 * np.random.default_rng(seed + 1).standard_normal(points.shape)
    return points, truth


def _kmeans_runs(assign_module, points, capsys):
    """``_kmeans`` labels (k=4, 3 starts) and the number of k-means runs it made."""
    labels = assign_module._kmeans(points, 4, np.random.default_rng(0), n_init=3, verbose=True)
    return labels, capsys.readouterr().out.count("Initialization complete")


def _assert_sample_as_good(full, sampled, truth):
    assert adjusted_rand_score(full, sampled) > 0.99
    assert adjusted_rand_score(truth, sampled) >= adjusted_rand_score(truth, full) - 0.01


@pytest.mark.parametrize(("n", "k", "seed"), [(2000, 10, 0), (500, 3, 4), (40, 5, 1)])
def test_kmeans_runs_are_scikit_learns_to_the_last_bit(n, k, seed):
    from sklearn.cluster import KMeans

    from specseg._assign import _fit_kmeans
    from specseg._parallel import single_threaded_openmp

    rng = np.random.default_rng(seed)
    points = rng.standard_normal((n, 6))
    points[: n // 3] += 1.5
    # on one OpenMP thread, as _kmeans runs it (Lloyd's sums depend on the threads)
    with single_threaded_openmp():
        expected = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(points)
        labels, centres = _fit_kmeans(points, k, seed, n_init=4)
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_array_equal(centres, expected.cluster_centers_)
    # from given centres, one run
    start = points[rng.choice(n, k, replace=False)] + 0.01
    with single_threaded_openmp():
        expected = KMeans(n_clusters=k, init=start, n_init=1, random_state=seed).fit(points)
        labels, centres = _fit_kmeans(points, k, seed, init=start)
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_array_equal(centres, expected.cluster_centers_)


def test_kmeans_warns_of_fewer_distinct_clusters_like_scikit_learn():
    from sklearn.exceptions import ConvergenceWarning

    from specseg._assign import _fit_kmeans

    points = np.repeat(np.eye(3), 10, axis=0)  # 3 distinct points, 5 clusters asked
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        _fit_kmeans(points, 5, 0, n_init=2)


def test_kmeans_starts_on_a_sample_of_200_rows_per_cluster(monkeypatch, capsys):
    import specseg._assign as assign_module

    points, truth = _overlapping_blobs(n_per=600, seed=5)  # 2,400 rows: above 2,000
    sampled, runs = _kmeans_runs(assign_module, points, capsys)
    assert runs == 4
    monkeypatch.setattr(assign_module, "KMEANS_SAMPLE_MIN_ROWS", 10_000)
    full, runs = _kmeans_runs(assign_module, points, capsys)
    assert runs == 3
    _assert_sample_as_good(full, sampled, truth)
    # and without verbose (not scikit-learn's KMeans) the same labels
    quiet = assign_module._kmeans(points, 4, np.random.default_rng(0), n_init=3)
    np.testing.assert_array_equal(quiet, full)

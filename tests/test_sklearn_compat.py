"""specseg as a drop-in for scikit-learn's spectral clustering.

scikit-learn's own test module runs with specseg in its place (see
``sklearn_engine_swap.py``), its estimator checks run on specseg's estimators,
and scikit-learn's keywords of ``spectral_clustering`` keep their meanings.
"""

import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.cluster import SpectralClustering as SkSpectralClustering
from sklearn.datasets import make_blobs, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import kneighbors_graph
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import specseg
from specseg import SpectralClustering, SpectralEmbedding, SpectralWarning, spectral_clustering

HERE = Path(__file__).resolve().parent


def run_sklearn_tests_swapped(tmp_path, plugin, module):
    """Run scikit-learn's test ``module`` with the pytest ``plugin`` loaded.

    Returns the summary line of the run and the plugin's call counts.
    """
    if importlib.util.find_spec(module) is None:
        pytest.skip("this scikit-learn was installed without its tests")
    # an empty ini file keeps this repository's pytest options out of the run
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    report = tmp_path / "calls.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]),
        SPECSEG_SWAP_REPORT=str(report))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "pytest.ini", "--rootdir", str(tmp_path),
         "-p", plugin, "-p", "no:cacheprovider", "-q", "--pyargs", module],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary
    return summary, json.loads(report.read_text())


def test_sklearn_spectral_tests_pass_with_specseg_swapped_in(tmp_path):
    _, calls = run_sklearn_tests_swapped(tmp_path, "sklearn_engine_swap",
                                         "sklearn.cluster.tests.test_spectral")
    # the estimator and the function under test were specseg's
    assert calls["SpectralClustering.fit"] >= 20
    assert calls["spectral_clustering"] >= 2


def test_sklearn_embedding_tests_pass_with_specseg_swapped_in(tmp_path):
    # SpectralEmbedding is specseg's; the function spectral_embedding stays
    # scikit-learn's (specseg's has a different signature on purpose)
    _, calls = run_sklearn_tests_swapped(tmp_path, "sklearn_embedding_swap",
                                         "sklearn.manifold.tests.test_spectral_embedding")
    assert calls["SpectralEmbedding.fit"] >= 40


@pytest.mark.parametrize(("affinity", "data", "dtype"), [
    ("rbf", np.float32, np.float32), ("rbf", np.float64, np.float64), ("rbf", int, np.float64),
    ("nearest_neighbors", np.float32, np.float64),  # the k-NN graph is float64
])
def test_spectral_embedding_dtype_is_sklearns(affinity, data, dtype):
    from sklearn.manifold import SpectralEmbedding as SkSpectralEmbedding

    X = (10 * np.random.default_rng(0).normal(size=(60, 3))).astype(data)
    ours = SpectralEmbedding(affinity=affinity).fit(X)
    theirs = SkSpectralEmbedding(affinity=affinity, random_state=0).fit(X)
    assert ours.embedding_.dtype == theirs.embedding_.dtype == dtype
    assert ours.affinity_matrix_.dtype == theirs.affinity_matrix_.dtype
    # a float32 precomputed affinity keeps float32 too
    W = ours.affinity_matrix_
    assert SpectralEmbedding(affinity="precomputed").fit_transform(W).dtype == W.dtype


@parametrize_with_checks([SpectralClustering(), SpectralEmbedding()])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        # the checks' tiny random data sets make disconnected k-NN graphs, and
        # duplicated points fewer distinct clusters than asked for
        warnings.simplefilter("ignore", SpectralWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def blobs(n=300, seed=0, std=0.6):
    return make_blobs(n_samples=n, centers=[[0, 0], [5, 0], [0, 5]], cluster_std=std,
                      random_state=seed)


def knn_affinity(X, n_neighbors=10):
    connectivity = kneighbors_graph(X, n_neighbors=n_neighbors, include_self=True)
    return 0.5 * (connectivity + connectivity.T)


def connected_blobs():
    """Three blobs whose 10-NN graph is connected (std 1.0)."""
    return blobs(std=1.0)


# the k-NN graph of these blobs has a component per blob: both libraries say so
@pytest.mark.filterwarnings("ignore:the graph is not fully connected")
@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
@pytest.mark.parametrize("affinity", ["nearest_neighbors", "rbf"])
@pytest.mark.parametrize("assign_labels", ["kmeans", "discretize", "cluster_qr"])
def test_estimator_agrees_with_sklearn(affinity, assign_labels):
    X, y = blobs()
    params = dict(n_clusters=3, affinity=affinity, assign_labels=assign_labels, random_state=0)
    ours = SpectralClustering(**params).fit(X)
    theirs = SkSpectralClustering(**params).fit(X)
    assert adjusted_rand_score(y, ours.labels_) == 1
    assert adjusted_rand_score(theirs.labels_, ours.labels_) == 1
    # the same affinity matrix as scikit-learn's
    a, b = ours.affinity_matrix_, theirs.affinity_matrix_
    if sparse.issparse(a):
        a, b = a.toarray(), b.toarray()
    np.testing.assert_allclose(a, b)


@pytest.mark.filterwarnings("ignore:the graph is not fully connected")  # 5 neighbours
def test_estimator_in_pipeline_and_grid_search():
    X, y = make_moons(200, noise=0.05, random_state=0)
    pipe = make_pipeline(StandardScaler(),
                         SpectralClustering(n_clusters=2, affinity="nearest_neighbors"))
    assert adjusted_rand_score(y, pipe.fit_predict(X)) == 1

    def score(estimator, X, y):
        return adjusted_rand_score(y, estimator.fit_predict(X))

    search = GridSearchCV(pipe, {"spectralclustering__n_neighbors": [5, 10]}, scoring=score,
                          cv=[(np.arange(200), np.arange(200))]).fit(X, y)
    assert search.best_score_ == 1


def test_estimator_refine_keeps_or_lowers_the_cut():
    X, _ = make_moons(300, noise=0.12, random_state=1)
    plain = SpectralClustering(n_clusters=2, affinity="nearest_neighbors").fit(X)
    refined = clone(plain).set_params(refine=True).fit(X)
    cut = specseg.ncut_value
    assert cut(refined.affinity_matrix_, refined.labels_) <= cut(plain.affinity_matrix_,
                                                                 plain.labels_)


def test_spectral_embedding_matches_sklearn():
    from sklearn.manifold import SpectralEmbedding as SkSpectralEmbedding

    X = np.random.default_rng(0).normal(size=(200, 3))
    ours = SpectralEmbedding(n_components=2, n_neighbors=10).fit_transform(X)
    theirs = SkSpectralEmbedding(n_components=2, n_neighbors=10,
                                 random_state=0).fit_transform(X)
    for j in range(2):  # the same eigenvectors, up to sign
        assert abs(np.corrcoef(ours[:, j], theirs[:, j])[0, 1]) > 0.9999
    np.testing.assert_allclose(np.abs(ours).max(axis=0), np.abs(theirs).max(axis=0),
                               rtol=1e-4)


# ---- scikit-learn's keywords of spectral_clustering --------------------------------------


def test_np_matrix_type_error_comes_before_value_checks():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        W = np.asmatrix([[0.0, 2.0], [2.0, 0.0]])
    # n_clusters=8 > 2 nodes is a value error, found only after the type check
    with pytest.raises(TypeError, match=r"np\.matrix is not supported"):
        spectral_clustering(W)
    # bad options are refused before the data is looked at, as scikit-learn does
    with pytest.raises(ValueError, match="'fast' is not a valid eigen_solver"):
        spectral_clustering(W, eigen_solver="fast")


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"n_init": 0}, ValueError, "n_init must be >= 1"),
        ({"n_init": 2.5}, TypeError, "n_init must be an integer"),
        ({"eigen_tol": -1.0}, ValueError, "eigen_tol must be a finite number >= 0"),
        ({"eigen_tol": "tight"}, ValueError, "eigen_tol must be 'auto' or a number"),
        ({"assign_labels": "spectral"}, ValueError, "not a valid assign_labels"),
        ({"n_components": 0}, ValueError, "n_components must be >= 1"),
        ({"n_components": 400}, ValueError, "n_components=400 is more than the 300 nodes"),
        ({"eigen_solver": "amg", "solver": "arpack"}, ValueError, "disagree"),
        ({"assign_labels": "kmeans", "assign": "discretize"}, ValueError, "disagree"),
        ({"eigen_tol": 1e-6, "tol": 1e-3}, ValueError, "disagree"),
        ({"n_components": 2, "assign_labels": "cluster_qr"}, ValueError,
         "needs at least n_clusters=3 eigenvectors"),
    ],
)
def test_bad_sklearn_keywords_refused(options, error, match):
    X, _ = connected_blobs()
    with pytest.raises(error, match=match):
        spectral_clustering(knn_affinity(X), 3, **options)


def test_sklearn_names_are_our_options():
    X, _ = connected_blobs()
    W = knn_affinity(X)
    for sk, ours in [({"eigen_solver": "amg"}, {"solver": "amg"}),
                     ({"assign_labels": "discretize"}, {"assign": "discretize"}),
                     ({"eigen_tol": 1e-5, "eigen_solver": "lobpcg"},
                      {"tol": 1e-5, "solver": "lobpcg"})]:
        np.testing.assert_array_equal(spectral_clustering(W, 3, random_state=1, **sk),
                                      spectral_clustering(W, 3, random_state=1, **ours))
    # the same value under both names is not a conflict
    spectral_clustering(W, 3, eigen_solver="amg", solver="amg")


def test_n_components_feeds_kmeans_every_eigenvector(capsys):
    X, y = connected_blobs()
    W = knn_affinity(X)
    base = dict(assign_labels="kmeans", refine=False, random_state=0)
    same = spectral_clustering(W, 3, n_components=3, **base)
    np.testing.assert_array_equal(same, spectral_clustering(W, 3, **base))
    assert adjusted_rand_score(y, same) >= 0.95
    # more eigenvectors than clusters: k-means sees them all, and they change the answer
    wide = spectral_clustering(W, 3, n_components=6, **base)
    assert np.unique(wide).size == 3 and adjusted_rand_score(same, wide) < 0.99
    # fewer: 2 eigenvectors, 3 clusters, scikit-learn's meaning
    narrow = spectral_clustering(W, 3, n_components=2, **base)
    assert np.unique(narrow).size == 3


def test_n_init_and_verbose_reach_kmeans(capsys):
    X, _ = connected_blobs()
    W = knn_affinity(X)
    capsys.readouterr()
    spectral_clustering(W, 3, assign_labels="kmeans", n_init=3, verbose=True)
    out = capsys.readouterr().out
    assert "Computing label assignment using kmeans" in out
    assert out.count("Initialization complete") == 3
    spectral_clustering(W, 3, assign_labels="kmeans", n_init=3)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("options", [
    {"n_clusters": 2.5}, {"n_clusters": None}, {"n_clusters": 0}, {"n_init": 2.0},
    {"n_components": 2.5}, {"eigen_tol": None}, {"eigen_tol": -1.0}, {"verbose": "yes"},
    {"random_state": 1.5}, {"random_state": "seed"}, {"eigen_solver": "fast"},
])
def test_bad_parameters_are_value_and_type_errors_as_in_sklearn(options):
    from sklearn.cluster import spectral_clustering as sk_spectral_clustering
    from sklearn.utils._param_validation import InvalidParameterError

    W = knn_affinity(connected_blobs()[0])
    kwargs = {"n_clusters": 3, **options}
    # scikit-learn's error for a bad parameter is both a ValueError and a TypeError,
    # so code catching either one keeps working with specseg in its place
    with pytest.raises(InvalidParameterError):
        sk_spectral_clustering(W, **kwargs)
    with pytest.raises(InvalidParameterError) as ours:
        spectral_clustering(W, **kwargs)
    assert isinstance(ours.value, ValueError) and isinstance(ours.value, TypeError)
    assert next(iter(options)) in str(ours.value)  # the message names the option

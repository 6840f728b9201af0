"""solver="auto" looks at a graph's structure as well as its size."""

import warnings

import numpy as np
import pytest
from scipy.sparse.linalg import ArpackNoConvergence
from sklearn.datasets import make_blobs
from sklearn.neighbors import kneighbors_graph

from specseg import SpectralWarning, _embedding, pixel_graph, spectral_embedding
from specseg._embedding import ARPACK_MAX_BAND, _first_solver, _level_band
from specseg._validation import check_affinity
from specseg.datasets import four_circles


def knn_graph(n, n_features, seed=0):
    X, _ = make_blobs(n, n_features=n_features, centers=10, cluster_std=3.0, random_state=seed)
    connectivity = kneighbors_graph(X, 10, include_self=True)
    return check_affinity(0.5 * (connectivity + connectivity.T))


def masked_circles():
    image, mask, _ = four_circles(100, random_state=0)
    return check_affinity(pixel_graph(image, mask=mask).affinity)


def volume(side):
    image = np.random.default_rng(0).random((side,) * 3)
    return check_affinity(pixel_graph(image).affinity)


@pytest.mark.parametrize(("make", "expected"), [
    (masked_circles, "arpack"),  # the seed example: 2,678 pixels of a 2-D image
    (lambda: volume(14), "amg"),  # a 3-D grid of 2,744 voxels
    (lambda: knn_graph(3000, 10), "amg"),  # a 10-NN graph of 10-D data
])
def test_auto_picks_by_structure(make, expected):
    affinity = make()
    assert 1500 < affinity.shape[0] <= 20_000  # where size alone would say "arpack"
    assert _first_solver(affinity, 4, "auto") == expected
    # an explicit choice is kept
    assert _first_solver(affinity, 4, "arpack") == "arpack"


def test_level_band_orders_the_structures():
    bands = [_level_band(masked_circles()), _level_band(volume(14)),
             _level_band(knn_graph(3000, 10))]
    assert bands[0] < ARPACK_MAX_BAND < bands[1] < bands[2]


def test_level_band_of_a_grid_matches_its_levels():
    # an n x n 4-connected grid from a corner: levels of 1, 2, ..., n, ..., 2, 1 nodes
    side = 30
    grid = check_affinity(pixel_graph(np.zeros((side, side))).affinity)
    widths = np.r_[np.arange(1, side + 1), np.arange(side - 1, 0, -1)].astype(float)
    expected = np.sum(widths * (widths + np.r_[0, widths[:-1]])) / side**2
    assert _level_band(grid) == pytest.approx(expected)


def test_auto_arpack_falls_back_to_amg(monkeypatch):
    def failing(*args, **kwargs):
        raise ArpackNoConvergence("ARPACK did not converge", np.zeros(0), np.zeros((0, 0)))

    monkeypatch.setitem(_embedding._SOLVER_FUNCS, "arpack", failing)
    affinity = masked_circles()
    with pytest.warns(SpectralWarning, match="solver 'arpack' failed .*; used 'amg' instead"):
        embedding, values = spectral_embedding(affinity, 4, return_eigenvalues=True)
    reference = spectral_embedding(affinity, 4, solver="dense", return_eigenvalues=True)[1]
    np.testing.assert_allclose(values, reference, atol=1e-7)


def test_auto_on_a_knn_graph_matches_a_tight_solve():
    affinity = knn_graph(2000, 10)
    _, auto = spectral_embedding(affinity, 10, return_eigenvalues=True)
    _, dense = spectral_embedding(affinity, 10, solver="dense", return_eigenvalues=True)
    np.testing.assert_allclose(auto, dense, atol=1e-7)


def test_amg_with_a_coarsest_level_smaller_than_k(monkeypatch):
    # k-NN graphs of high-dimensional data coarsen fast (20,000 nodes, then 674,
    # then 9): a coarsest level of fewer than k nodes must not cost eigenvectors
    from functools import partial

    from specseg import _multigrid

    affinity = knn_graph(3000, 10)
    monkeypatch.setattr(_embedding, "build_hierarchy",
                        partial(_multigrid.build_hierarchy, max_coarse=5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpectralWarning)  # no fallback
        embedding, values = spectral_embedding(affinity, 10, solver="amg",
                                               return_eigenvalues=True)
    assert embedding.shape == (3000, 10)
    reference = spectral_embedding(affinity, 10, solver="arpack", return_eigenvalues=True)[1]
    np.testing.assert_allclose(values, reference, atol=1e-7)


@pytest.mark.parametrize("n", [3000, 8000])
def test_default_tolerance_gives_the_labels_of_a_tight_solve(n):
    # the small-graph default (SMALL_TOL) is loose next to machine precision; the
    # k-means assignment must not see the difference
    from sklearn.metrics import adjusted_rand_score

    from specseg import spectral_clustering

    affinity = knn_graph(n, 10)
    assert _first_solver(affinity, 10, "auto") == "amg"
    common = dict(assign_labels="kmeans", refine=False, random_state=0)
    default = spectral_clustering(affinity, 10, **common)
    tight = spectral_clustering(affinity, 10, tol=1e-10, **common)
    assert adjusted_rand_score(tight, default) == 1.0
    embedding, values = spectral_embedding(affinity, 10, return_eigenvalues=True)
    reference = spectral_embedding(affinity, 10, tol=1e-10, return_eigenvalues=True)[1]
    # eigenvalue errors are about the square of the residual (at 8,000 nodes the
    # hierarchy is left unsmoothed and the default is ITERATIVE_TOL, 1e-4)
    np.testing.assert_allclose(values, reference, atol=2e-8)


@pytest.mark.parametrize("make", [masked_circles, lambda: volume(14), lambda: knn_graph(3000, 10)])
def test_breadth_first_levels_match_dijkstra(make):
    from scipy.sparse import csgraph

    from specseg._embedding import _bfs_levels

    affinity = make()
    for start in (0, 17, affinity.shape[0] - 1):
        expected = csgraph.dijkstra(affinity, indices=start, unweighted=True)
        np.testing.assert_array_equal(_bfs_levels(affinity, start), expected)


def test_graphs_of_high_dimensional_data_take_the_looser_default():
    from specseg._embedding import (
        ITERATIVE_TOL,
        SMALL_TOL,
        _amg_default_tol,
        _high_dimensional,
        _normalized_laplacian,
    )
    from specseg._multigrid import IdentityMinus, build_hierarchy

    for affinity, expected in ((knn_graph(8000, 10), ITERATIVE_TOL), (volume(20), SMALL_TOL)):
        L, sqrt_degree = _normalized_laplacian(affinity)
        ml = build_hierarchy(IdentityMinus(L.S, 1.0 + 1e-8), sqrt_degree)
        assert _amg_default_tol(affinity.shape[0], ml) == expected
        assert _high_dimensional(ml) == (expected == ITERATIVE_TOL)
        ml.release_setup()  # the cycles alone still say it
        assert _high_dimensional(ml) == (expected == ITERATIVE_TOL)

import warnings

import numpy as np
import pytest
from scipy import linalg, sparse

from specseg import SpectralWarning, pixel_graph, spectral_embedding

from .conftest import two_region_image

SOLVERS = ["dense", "arpack", "lobpcg", "amg", "auto"]


def reference_eigenpairs(W, k):
    W = W.toarray()
    d = W.sum(axis=1)
    L = np.diag(d) - W
    return linalg.eigh(L, np.diag(d), subset_by_index=[0, k - 1])


@pytest.fixture(scope="module")
def small_graph():
    image = two_region_image((30, 35), noise=0.3, seed=1)
    return pixel_graph(image).affinity


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("k", [1, 4])
def test_eigenvalues_match_dense_reference(small_graph, solver, k):
    emb, lam = spectral_embedding(small_graph, k, solver=solver, return_eigenvalues=True)
    ref_lam, _ = reference_eigenpairs(small_graph, k)
    np.testing.assert_allclose(lam, ref_lam, rtol=1e-6, atol=1e-10)
    W = small_graph
    d = np.asarray(W.sum(axis=1)).ravel()
    L = sparse.diags(d) - W
    # generalized residual ||L v - lambda D v|| relative to ||D v||
    residual = np.linalg.norm(L @ emb - (d[:, None] * emb) * lam, axis=0)
    assert np.all(residual <= 1e-4 * np.linalg.norm(d[:, None] * emb, axis=0))


@pytest.mark.parametrize("solver", SOLVERS)
def test_embedding_spans_reference_subspace(small_graph, solver):
    k = 4
    emb = spectral_embedding(small_graph, k, solver=solver)
    _, ref = reference_eigenpairs(small_graph, k)
    q_emb, _ = np.linalg.qr(emb)
    q_ref, _ = np.linalg.qr(ref)
    cosines = linalg.svdvals(q_emb.T @ q_ref)
    assert cosines.min() > 1 - 1e-6


def test_first_vector_is_constant(small_graph):
    emb = spectral_embedding(small_graph, 3)
    np.testing.assert_allclose(emb[:, 0], emb[0, 0], rtol=1e-8)


@pytest.mark.parametrize("solver", SOLVERS)
def test_deterministic_for_fixed_seed(small_graph, solver):
    a = spectral_embedding(small_graph, 4, solver=solver, random_state=7)
    b = spectral_embedding(small_graph, 4, solver=solver, random_state=7)
    np.testing.assert_array_equal(a, b)


def test_amg_ignores_and_keeps_global_rng(small_graph):
    np.random.seed(1)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = spectral_embedding(small_graph, 3, solver="amg", random_state=0)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    np.random.seed(99)  # noqa: NPY002
    b = spectral_embedding(small_graph, 3, solver="amg", random_state=0)
    np.testing.assert_array_equal(a, b)


def test_fewer_vectors_than_components_warning_counts_vectors():
    # an embedding (or segment(image, "auto")) asks for vectors, not segments
    block = sparse.csr_array(np.ones((4, 4)) - np.eye(4))
    W = sparse.block_diag([block] * 3, format="csr")
    with pytest.warns(SpectralWarning, match="3 connected components; 2 eigenvectors cannot "
                                             "tell them all apart"):
        spectral_embedding(W, 2)


def test_disconnected_graph_warns_and_gives_indicators():
    block = sparse.csr_array(np.ones((4, 4)) - np.eye(4))
    W = sparse.block_diag([block, block, block], format="csr")
    with pytest.warns(SpectralWarning, match="3 connected components"):
        emb, lam = spectral_embedding(W, 3, return_eigenvalues=True)
    np.testing.assert_allclose(lam, 0, atol=1e-12)
    # each column is the indicator of one component
    support = [set(np.flatnonzero(np.abs(emb[:, j]) > 1e-12)) for j in range(3)]
    assert sorted(map(sorted, support)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_disconnected_graph_with_more_components_requested(rng):
    image = rng.random((6, 6))
    mask = np.zeros((6, 6), bool)
    mask[:, :2] = mask[:, 4:] = True
    W = pixel_graph(image, mask=mask).affinity
    with pytest.warns(SpectralWarning):
        emb, lam = spectral_embedding(W, 4, return_eigenvalues=True)
    np.testing.assert_allclose(lam[:2], 0, atol=1e-12)
    assert np.all(lam[2:] > 0)


def test_isolated_node_is_its_own_component():
    W = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpectralWarning)
        emb = spectral_embedding(W, 2)
    assert np.all(np.isfinite(emb))


def test_bad_solver_lists_valid_ones(small_graph):
    with pytest.raises(ValueError, match="Valid solvers are 'auto', 'arpack'"):
        spectral_embedding(small_graph, 2, solver="magic")


@pytest.mark.parametrize("k", [0, 10**6])
def test_bad_n_components(small_graph, k):
    with pytest.raises(ValueError, match="n_components"):
        spectral_embedding(small_graph, k)


def test_coarse_only_amg_path_close_to_accurate(monkeypatch):
    """Above FINE_SOLVE_MAX_NODES "amg" stops at the interpolated coarse solution."""
    import specseg._embedding as embedding_module
    from specseg import ncut_value, spectral_clustering
    from specseg.datasets import four_circles

    image, mask, _ = four_circles(200, random_state=0)
    W = pixel_graph(image, mask=mask).affinity
    accurate = spectral_clustering(W, 4, solver="arpack", random_state=0)
    monkeypatch.setattr(embedding_module, "FINE_SOLVE_MAX_NODES", 1000)
    emb, lam = spectral_embedding(W, 4, solver="amg", return_eigenvalues=True)
    u = emb * np.sqrt(np.asarray(W.sum(axis=1))).reshape(-1, 1)
    np.testing.assert_allclose(u.T @ u, np.eye(4), atol=1e-8)  # orthonormal as returned
    assert np.all(np.diff(lam) >= 0) and lam[0] < 1e-8
    fast = spectral_clustering(W, 4, solver="amg", random_state=0)
    assert ncut_value(W, fast) <= 1.1 * ncut_value(W, accurate)

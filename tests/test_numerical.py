"""Every numerical fault gets a fallback: solver failures, degenerate and tiny graphs,
disconnected graphs, and deterministic eigenvector signs and rotations.

See docs/robustness.md.
"""

import warnings

import numpy as np
import pytest
from scipy import linalg, sparse
from scipy.sparse.linalg import ArpackNoConvergence
from sklearn.metrics import adjusted_rand_score

from specseg import (
    SpectralWarning,
    _embedding,
    canonical_labels,
    pixel_graph,
    segment,
    spectral_clustering,
    spectral_embedding,
)

from .conftest import two_region_image

SOLVERS = ["dense", "arpack", "lobpcg", "amg", "auto"]
ASSIGN = ["cluster_qr", "kmeans", "discretize"]


@pytest.fixture(scope="module")
def graph():
    return pixel_graph(two_region_image((14, 16), noise=0.3, seed=2)).affinity


def reference_eigenvalues(W, k):
    W = W.toarray()
    d = W.sum(axis=1)
    return linalg.eigh(np.diag(d) - W, np.diag(d), eigvals_only=True, subset_by_index=[0, k - 1])


def failing(exc):
    def solve(*args, **kwargs):
        raise exc

    return solve


# --- the fallback chain ------------------------------------------------------------------


@pytest.mark.parametrize("solver, exc, used", [
    ("amg", np.linalg.LinAlgError("pyamg: matrix is singular"), "arpack"),
    ("lobpcg", np.linalg.LinAlgError("leading minor not positive definite"), "arpack"),
    ("arpack", ArpackNoConvergence("ARPACK did not converge", np.zeros(0), np.zeros((0, 0))),
     "dense"),
    ("arpack", RuntimeError("Factor is exactly singular"), "dense"),
    ("dense", MemoryError("dense eigensolver out of memory"), None),
])
def test_failing_solver_falls_back_with_warning(monkeypatch, graph, solver, exc, used):
    monkeypatch.setitem(_embedding._SOLVER_FUNCS, solver, failing(exc))
    if used is None:  # MemoryError is not a numerical fault: it is not swallowed
        with pytest.raises(MemoryError):
            spectral_embedding(graph, 3, solver=solver)
        return
    with pytest.warns(SpectralWarning, match=(
        rf"solver '{solver}' failed \({solver}: .*\); used '{used}' instead\. "
        rf"Pass solver='{used}' to skip the failing solver\."
    )):
        emb, lam = spectral_embedding(graph, 3, solver=solver, return_eigenvalues=True)
    np.testing.assert_allclose(lam, reference_eigenvalues(graph, 3), rtol=1e-6, atol=1e-10)
    assert np.all(np.isfinite(emb))


def test_fallback_goes_down_the_whole_chain(monkeypatch, graph):
    monkeypatch.setitem(_embedding._SOLVER_FUNCS, "amg", failing(np.linalg.LinAlgError("amg")))
    monkeypatch.setitem(
        _embedding._SOLVER_FUNCS, "arpack", failing(RuntimeError("Factor is exactly singular"))
    )
    with pytest.warns(SpectralWarning, match=r"amg: amg; arpack: Factor is exactly singular\); "
                                             r"used 'dense'"):
        _, lam = spectral_embedding(graph, 3, solver="amg", return_eigenvalues=True)
    np.testing.assert_allclose(lam, reference_eigenvalues(graph, 3), rtol=1e-6, atol=1e-10)


def test_unconverged_lobpcg_falls_back(monkeypatch, graph):
    def junk(laplacian, sqrt_degree, k, *, tol, rng, **kwargs):
        return rng.standard_normal((laplacian.shape[0], k))

    monkeypatch.setitem(_embedding._SOLVER_FUNCS, "lobpcg", junk)
    with pytest.warns(SpectralWarning, match=r"lobpcg: did not converge \(residual .*'arpack'"):
        _, lam = spectral_embedding(graph, 3, solver="lobpcg", return_eigenvalues=True)
    np.testing.assert_allclose(lam, reference_eigenvalues(graph, 3), rtol=1e-6, atol=1e-10)


def test_every_solver_failing_raises(monkeypatch, graph):
    for name in ("amg", "arpack", "dense"):
        monkeypatch.setitem(
            _embedding._SOLVER_FUNCS, name, failing(np.linalg.LinAlgError(f"{name} broke"))
        )
    with pytest.raises(RuntimeError, match="every eigensolver failed: amg: amg broke; arpack"):
        spectral_embedding(graph, 3, solver="amg")


def test_segment_fallback_gives_the_same_labels(monkeypatch):
    image = two_region_image((14, 16), noise=0.2, seed=5)
    reference = segment(image, 2, solver="arpack")
    monkeypatch.setitem(_embedding._SOLVER_FUNCS, "amg", failing(np.linalg.LinAlgError("boom")))
    with pytest.warns(SpectralWarning, match="solver 'amg' failed"):
        labels, info = segment(image, 2, solver="amg", return_info=True)
    assert info["solver"] == "arpack"
    np.testing.assert_array_equal(labels, reference)


# --- degenerate and tiny graphs ----------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("k", [1, 2, 4])
def test_constant_image_gives_finite_results(solver, k):
    image = np.full((9, 10), 7.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (0/0) nor fallback warning
        labels, info = segment(image, k, solver=solver, return_info=True)
        again = segment(image, k, solver=solver)
    assert np.all(np.isfinite(info["eigenvalues"])) and np.isfinite(info["ncut"])
    assert sorted(np.unique(labels)) == list(range(k))
    np.testing.assert_array_equal(labels, again)


@pytest.mark.parametrize("solver", SOLVERS)
def test_constant_region_gives_finite_results(solver):
    image = two_region_image((12, 12), noise=0.3, seed=1)
    image[:, :6] = 0.0  # exactly constant left half
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels, info = segment(image, 3, solver=solver, return_info=True)
    assert np.all(np.isfinite(info["eigenvalues"])) and np.isfinite(info["ncut"])
    assert sorted(np.unique(labels)) == [0, 1, 2]


def test_constant_affinity_graph():
    W = np.ones((6, 6)) - np.eye(6)
    labels = spectral_clustering(W, 3)
    assert sorted(np.unique(labels)) == [0, 1, 2]


TINY = [(1, 1), (1, 2), (2, 1), (1, 3), (2, 2), (1, 4), (1, 5), (5, 1)]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("shape", TINY, ids=str)
def test_tiny_images_work_for_every_solver(solver, shape):
    n = shape[0] * shape[1]
    image = (np.arange(n).reshape(shape) % 2).astype(float)
    for k in range(1, n + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no spurious fallback on tiny graphs
            labels = segment(image, k, solver=solver)
        assert labels.shape == shape
        assert sorted(np.unique(labels)) == list(range(k))


@pytest.mark.parametrize("solver", SOLVERS)
def test_tiny_graph_eigenvalues_are_exact(solver):
    W = sparse.diags([np.ones(4), np.ones(4)], [-1, 1], shape=(5, 5))  # path of 5 nodes
    _, lam = spectral_embedding(W, 3, solver=solver, return_eigenvalues=True)
    np.testing.assert_allclose(lam, reference_eigenvalues(sparse.csr_array(W), 3), atol=1e-10)


# --- disconnected graphs -----------------------------------------------------------------


def three_islands():
    """Three components of a masked image: two blocks and one isolated pixel."""
    image = two_region_image((10, 13), noise=0.3, seed=7)
    mask = np.zeros(image.shape, bool)
    mask[:, :5] = True  # columns 5 and 11 stay outside: they separate the islands
    mask[:, 6:11] = True
    mask[9, 12] = True
    components = np.zeros(image.shape, int)
    components[:, 6:11] = 1
    components[9, 12] = 2
    return image, mask, components


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("assign", ASSIGN)
@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("refine", [True, False])
def test_no_segment_spans_two_components(solver, assign, k, refine):
    image, mask, components = three_islands()
    with pytest.warns(SpectralWarning, match="not fully connected: it has 3 connected components"):
        labels, info = segment(image, k, mask=mask, solver=solver, assign=assign,
                               refine=refine, return_info=True)
    assert info["n_components"] == 3
    for label in range(k):
        assert len(np.unique(components[labels == label])) == 1, label


def test_fewer_segments_than_components_warns():
    image, mask, _ = three_islands()
    with pytest.warns(SpectralWarning, match="3 connected components.*at least as many segments"):
        labels = segment(image, 2, mask=mask)
    assert sorted(np.unique(labels[mask])) == [0, 1]
    assert np.all(labels[~mask] == -1)


def test_components_found_up_front(monkeypatch):
    """A disconnected graph is split before any solver runs on it."""
    seen = []
    original = _embedding._solve_connected

    def spy(affinity, k, **kwargs):
        from scipy.sparse import csgraph

        seen.append(csgraph.connected_components(affinity, directed=False)[0])
        return original(affinity, k, **kwargs)

    monkeypatch.setattr(_embedding, "_solve_connected", spy)
    image, mask, _ = three_islands()
    with pytest.warns(SpectralWarning):
        segment(image, 5, mask=mask)
    assert seen and all(n == 1 for n in seen)


# --- deterministic signs and rotations ---------------------------------------------------


@pytest.mark.parametrize("solver", ["arpack", "lobpcg", "amg"])
def test_eigenvector_signs_do_not_depend_on_the_start(graph, solver):
    """Non-degenerate eigenvectors agree across seeds and solvers, signs included."""
    reference = spectral_embedding(graph, 3, solver="dense")
    for seed in (0, 1, 2):
        emb = spectral_embedding(graph, 3, solver=solver, random_state=seed)
        np.testing.assert_allclose(emb, reference, atol=1e-4 * np.abs(reference).max())


def ring_of_cliques(n_cliques=4, size=5, bridge=0.05):
    """Equal cliques in a ring: the 2nd and 3rd eigenvalues tie exactly."""
    block = np.ones((size, size)) - np.eye(size)
    W = linalg.block_diag(*[block] * n_cliques)
    for c in range(n_cliques):
        a, b = c * size, ((c + 1) % n_cliques) * size + 1
        W[a, b] = W[b, a] = bridge
    truth = np.repeat(np.arange(n_cliques), size)
    return W, truth


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("assign", ASSIGN)
def test_tied_eigenvalues_repeat_and_survive_permutation(solver, assign):
    W, truth = ring_of_cliques()
    lam = reference_eigenvalues(sparse.csr_array(W), 3)
    assert abs(lam[1] - lam[2]) < 1e-10  # the tie this test is about
    first = spectral_clustering(W, 4, solver=solver, assign=assign, random_state=0)
    for _ in range(2):
        again = spectral_clustering(W, 4, solver=solver, assign=assign, random_state=0)
        np.testing.assert_array_equal(again, first)
    assert adjusted_rand_score(truth, first) == 1.0
    perm = np.random.default_rng(1).permutation(W.shape[0])
    permuted = spectral_clustering(W[perm][:, perm], 4, solver=solver, assign=assign,
                                   random_state=0)
    assert adjusted_rand_score(first[perm], permuted) == 1.0


def test_identical_components_tie_is_broken_deterministically():
    block = np.ones((4, 4)) - np.eye(4)
    W = linalg.block_diag(block, block, block)
    perm = np.random.default_rng(0).permutation(12)
    with pytest.warns(SpectralWarning):
        a = spectral_clustering(W, 3)
    with pytest.warns(SpectralWarning):
        b = spectral_clustering(W[perm][:, perm], 3)
    np.testing.assert_array_equal(a, np.repeat([0, 1, 2], 4))
    assert adjusted_rand_score(a[perm], b) == 1.0


def test_separate_components_merges_within_a_component_by_ncut():
    from specseg._components import separate_components

    # component {0, 1, 2} (a path with a weak last edge) and the isolated node 3
    W = sparse.csr_array(np.array([
        [0, 1, 0, 0], [1, 0, 0.1, 0], [0, 0.1, 0, 0], [0, 0, 0, 0.0],
    ]))
    # label 1 spans both components; splitting it gives 4 labels, one merge is needed
    labels = separate_components(W, np.array([0, 1, 2, 1]), 3)
    assert canonical_labels(labels).tolist() == [0, 0, 1, 2]  # the strong edge 0-1 is merged
    assert separate_components(W, np.array([0, 0, 1, 2]), 3).tolist() == [0, 0, 1, 2]

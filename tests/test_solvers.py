"""The eigensolver's parts: the block LOBPCG, the multigrid hierarchy and the cascade."""

import numpy as np
import pytest
from scipy import linalg, sparse

from specseg._embedding import _cascade, _normalized_laplacian
from specseg._lobpcg import lobpcg_smallest
from specseg._multigrid import IdentityMinus, build_hierarchy
from specseg._validation import check_affinity


def grid_affinity(shape=(40, 30), seed=0):
    """A noisy 4-neighbour grid graph with two weakly linked halves."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    index = np.arange(n).reshape(shape)
    rows, cols, weights = [], [], []
    for a, b in ((index[:, :-1], index[:, 1:]), (index[:-1], index[1:])):
        rows.append(a.ravel())
        cols.append(b.ravel())
        weights.append(rng.uniform(0.5, 1.0, a.size))
    row, col, w = map(np.concatenate, (rows, cols, weights))
    across = (row // shape[1] < shape[0] // 2) != (col // shape[1] < shape[0] // 2)
    w[across] *= 1e-3
    graph = sparse.coo_array((np.r_[w, w], (np.r_[row, col], np.r_[col, row])), shape=(n, n))
    return check_affinity(graph)


@pytest.fixture(scope="module")
def laplacian():
    L, sqrt_degree = _normalized_laplacian(grid_affinity())
    return L, sqrt_degree


def dense_pairs(L, k):
    values, vectors = linalg.eigh(L.tocsr().toarray(), subset_by_index=[0, k - 1])
    return values, vectors


def test_lobpcg_matches_dense_eigenpairs(laplacian):
    L, sqrt_degree = laplacian
    n, k = L.shape[0], 4
    trivial = (sqrt_degree / np.linalg.norm(sqrt_degree))[:, None]
    ml = build_hierarchy(IdentityMinus(L.S, 1.0 + 1e-8), sqrt_degree, max_coarse=50)
    start = np.random.default_rng(0).standard_normal((n, k - 1))
    theta, X, residuals, _ = lobpcg_smallest(L, start, M=ml.vcycle, Y=trivial, tol=1e-9,
                                             maxiter=300)
    values, vectors = dense_pairs(L, k)
    np.testing.assert_allclose(theta, values[1:], atol=1e-10)
    assert residuals.max() <= 1e-9
    np.testing.assert_allclose(X.T @ X, np.eye(k - 1), atol=1e-10)
    # the same subspace as the reference eigenvectors
    overlap = np.linalg.svd(vectors[:, 1:].T @ X, compute_uv=False)
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)


def test_lobpcg_leaves_the_start_alone_unless_allowed(laplacian):
    L, _ = laplacian
    start = np.random.default_rng(1).standard_normal((L.shape[0], 3))
    kept = start.copy()
    lobpcg_smallest(L, start, tol=1e-3, maxiter=5)
    np.testing.assert_array_equal(start, kept)
    theta = lobpcg_smallest(L, start, tol=1e-3, maxiter=5, overwrite_x=True)[0]
    expected = lobpcg_smallest(L, kept, tol=1e-3, maxiter=5)[0]
    np.testing.assert_array_equal(theta, expected)


def test_lobpcg_from_ritz_pairs_skips_nothing_it_needs(laplacian):
    """Started from Ritz vectors with their values, the result is that of the
    ordinary start (which makes the same Ritz vectors by Rayleigh-Ritz)."""
    L, sqrt_degree = laplacian
    n = L.shape[0]
    trivial = (sqrt_degree / np.linalg.norm(sqrt_degree))[:, None]
    rng = np.random.default_rng(2)
    basis = rng.standard_normal((n, 3))
    basis -= trivial @ (trivial.T @ basis)
    q = np.linalg.qr(basis)[0]
    mu, c = np.linalg.eigh(q.T @ (L @ q))
    ritz = q @ c
    plain = lobpcg_smallest(L, ritz, Y=trivial, tol=1e-6, maxiter=400)
    start = ritz.copy()
    skipped = lobpcg_smallest(L, start, Y=trivial, tol=1e-6, maxiter=400, ritz_values=mu,
                              overwrite_x=True)
    assert np.shares_memory(skipped[1], start)  # updated in place, no copy
    np.testing.assert_allclose(skipped[0], plain[0], rtol=1e-8, atol=1e-12)
    assert skipped[2].max() <= 1e-6
    overlap = np.linalg.svd(skipped[1].T @ plain[1], compute_uv=False)
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)


def test_release_setup_keeps_the_cycle(laplacian):
    L, sqrt_degree = laplacian
    ml = build_hierarchy(IdentityMinus(L.S, 1.0 + 1e-8), sqrt_degree, max_coarse=50)
    assert ml.n_levels > 2
    block = np.random.default_rng(3).standard_normal((L.shape[0], 3))
    before = ml.vcycle(block)
    ml.release_setup()
    assert all(level.P is None and level.R is None and level.RP is None for level in ml.levels)
    np.testing.assert_array_equal(ml.vcycle(block), before)


def test_cascade_gives_ritz_pairs_of_the_finest_level(laplacian):
    L, sqrt_degree = laplacian
    ml = build_hierarchy(IdentityMinus(L.S, 1.0 + 1e-8), sqrt_degree, max_coarse=50)
    assert ml.n_levels > 2
    values, vectors = _cascade(ml, 4, tol=None, rng=np.random.default_rng(0))
    later_values, later = _cascade(ml, 4, tol=None, rng=np.random.default_rng(0), first=1)
    np.testing.assert_array_equal(later, vectors[:, 1:])
    np.testing.assert_array_equal(later_values, values[1:])
    assert later.flags.c_contiguous
    # orthonormal, and L_sym is diagonal on their span with these values
    np.testing.assert_allclose(later.T @ later, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(later.T @ (L @ later), np.diag(later_values), atol=1e-10)


def test_aggregate_degree_counts_neighbouring_aggregates():
    from specseg._multigrid import _aggregate_degree

    # a path of 9 nodes in 3 aggregates of 3 consecutive nodes: the middle one
    # touches both others, the ends one each (itself counted)
    path = sparse.diags([np.ones(8), np.ones(8)], [-1, 1]).tocsr()
    aggregates = sparse.csr_array((np.ones(9), np.repeat(np.arange(3), 3), np.arange(10)),
                                  shape=(9, 3))
    assert _aggregate_degree(path, aggregates) == pytest.approx(7 / 3)
    # a node in no aggregate is skipped, and so are its links
    loose = sparse.csr_array((np.ones(8), np.repeat(np.arange(3), 3)[:-1], np.r_[np.arange(9), 8]),
                             shape=(9, 3))
    assert _aggregate_degree(path, loose) == pytest.approx(7 / 3)


@pytest.mark.parametrize(("kind", "smoothed"), [("grid", True), ("knn", False)])
def test_prolongator_smoothed_where_aggregates_have_few_neighbours(kind, smoothed):
    from sklearn.datasets import make_blobs
    from sklearn.neighbors import kneighbors_graph

    if kind == "grid":
        affinity = grid_affinity((60, 50))
    else:
        # 10-D data: each aggregate touches over 30 others (3,000 points: 14)
        X, _ = make_blobs(10_000, n_features=10, centers=10, cluster_std=3.0, random_state=0)
        connectivity = kneighbors_graph(X, 10, include_self=True)
        affinity = check_affinity(0.5 * (connectivity + connectivity.T))
    L, sqrt_degree = _normalized_laplacian(affinity)
    ml = build_hierarchy(IdentityMinus(L.S, 1.0 + 1e-8), sqrt_degree, max_coarse=50)
    P = ml.levels[0].P
    # the tentative prolongator has one entry per node; smoothing spreads it
    assert (P.nnz > P.shape[0]) == smoothed
    # either way the near-null vector is interpolated exactly from the coarse level
    values, vectors = _cascade(ml, 4, tol=None, rng=np.random.default_rng(0))
    assert values[0] == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(np.abs(vectors[:, 0]), sqrt_degree / np.linalg.norm(sqrt_degree),
                               atol=1e-6)


def test_aggregate_degree_table_counts_as_unique_does(monkeypatch):
    from sklearn.datasets import make_blobs
    from sklearn.neighbors import kneighbors_graph

    from specseg import _multigrid
    from specseg._multigrid import _aggregate_degree, _strong_connections

    X, _ = make_blobs(3000, n_features=10, centers=10, cluster_std=3.0, random_state=0)
    connectivity = kneighbors_graph(X, 10, include_self=True)
    S = _normalized_laplacian(check_affinity(0.5 * (connectivity + connectivity.T)))[0].S
    from pyamg.aggregation import standard_aggregation

    aggregates = standard_aggregation(_strong_connections(S, 0.1, plain=True))[0].tocsr()
    loose = aggregates.tolil()
    loose[::7] = 0  # some nodes in no aggregate
    loose = sparse.csr_array(loose)
    loose.eliminate_zeros()
    for groups in (aggregates, loose):
        for sample in (256, 16):  # every aggregate, and every few
            monkeypatch.setattr(_multigrid, "DEGREE_SAMPLE", sample)
            table = _aggregate_degree(S, groups)
            monkeypatch.setattr(_multigrid, "DEGREE_TABLE_MAX", 0)
            assert _aggregate_degree(S, groups) == table
            monkeypatch.setattr(_multigrid, "DEGREE_TABLE_MAX", 1 << 22)


def test_dense_pairs_with_a_diagonal_mass_match_the_generalized_problem():
    from specseg._embedding import _smallest_dense_pairs

    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 40))
    a = a @ a.T
    mass = np.diag(rng.uniform(0.5, 2.0, 40))
    values, vectors = _smallest_dense_pairs(a, mass, 5)
    expected_values, expected = linalg.eigh(a, mass, subset_by_index=[0, 4])
    np.testing.assert_allclose(values, expected_values, rtol=1e-10)
    np.testing.assert_allclose(np.abs(vectors), np.abs(expected), atol=1e-10)
    # a mass that is not diagonal, or none, goes to the generalized solver as before
    full = mass + 0.01
    np.testing.assert_array_equal(_smallest_dense_pairs(a, full, 5)[0],
                                  linalg.eigh(a, full, subset_by_index=[0, 4])[0])
    np.testing.assert_array_equal(_smallest_dense_pairs(a, None, 5)[0],
                                  linalg.eigh(a, subset_by_index=[0, 4])[0])


def test_largest_eigenvalue_bound_is_close():
    from sklearn.datasets import make_blobs
    from sklearn.neighbors import kneighbors_graph

    from specseg._multigrid import _Explicit, _largest_eigenvalue_bound

    X, _ = make_blobs(3000, n_features=10, centers=10, cluster_std=3.0, random_state=0)
    connectivity = kneighbors_graph(X, 10, include_self=True)
    L, _ = _normalized_laplacian(check_affinity(0.5 * (connectivity + connectivity.T)))
    A = IdentityMinus(L.S, 1.0 + 1e-8)
    largest = linalg.eigvalsh(A.tocsr().toarray())[-1]
    estimate = _largest_eigenvalue_bound(A)
    assert abs(estimate - largest) < 0.05 * largest
    # the same for the explicit matrix, and deterministic
    assert _largest_eigenvalue_bound(_Explicit(A.tocsr())) == pytest.approx(estimate, rel=1e-12)
    assert _largest_eigenvalue_bound(A) == estimate

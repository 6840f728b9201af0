"""Row-parallel kernels: same results as the serial products, for any thread count."""

import numpy as np
import pytest
from scipy import sparse

from specseg import _parallel
from specseg._parallel import CHUNK_ROWS, gram, map_chunks, num_threads, spgemm, spmm


def _random_csr(n_rows, n_cols, density, dtype=np.float64, seed=0):
    return sparse.random_array(
        (n_rows, n_cols), density=density, format="csr", dtype=dtype, rng=seed
    )


@pytest.fixture(params=["1", "2", "3"])
def threads(request, monkeypatch):
    monkeypatch.setenv("SPECSEG_NUM_THREADS", request.param)
    return int(request.param)


def test_num_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv("SPECSEG_NUM_THREADS", "3")
    assert num_threads() == 3
    monkeypatch.setenv("SPECSEG_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="SPECSEG_NUM_THREADS must be a positive integer"):
        num_threads()
    monkeypatch.delenv("SPECSEG_NUM_THREADS")
    assert num_threads() >= 1


def test_map_chunks_keeps_chunk_order(threads):
    n = 5 * CHUNK_ROWS + 17
    starts = map_chunks(n, lambda a, b: (a, b))
    assert starts[0] == (0, CHUNK_ROWS)
    assert starts[-1] == (5 * CHUNK_ROWS, n)
    assert all(b == a2 for (_, b), (a2, _) in zip(starts[:-1], starts[1:], strict=True))


def test_nested_calls_run_serially(threads):
    n = 3 * CHUNK_ROWS
    inner = map_chunks(n, lambda a, b: sum(map_chunks(n, lambda c, d: d - c)))
    assert inner == [n, n, n]


def test_exceptions_in_a_chunk_reach_the_caller(threads):
    def work(a, b):
        if a > 0:
            raise RuntimeError("chunk failed")

    with pytest.raises(RuntimeError, match="chunk failed"):
        map_chunks(3 * CHUNK_ROWS, work)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [None, 1, 7])
def test_spmm_matches_scipy_exactly(threads, dtype, width):
    n = 2 * CHUNK_ROWS + 123
    matrix = _random_csr(n, n, 5 / n, dtype=dtype)
    rng = np.random.default_rng(1)
    block = rng.standard_normal(n if width is None else (n, width)).astype(dtype)
    expected = matrix @ block
    got = spmm(matrix, block)
    assert got.dtype == dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_spmm_epilogue_sees_each_chunk_once(threads):
    n = 3 * CHUNK_ROWS + 5
    matrix = _random_csr(n, n, 4 / n)
    block = np.random.default_rng(2).standard_normal((n, 3))

    def epilogue(out, a, b):  # shift * block - matrix @ block
        np.subtract(2.0 * block[a:b], out, out=out)

    np.testing.assert_array_equal(spmm(matrix, block, epilogue), 2.0 * block - matrix @ block)


def test_gram_matches_the_dense_product(threads):
    n = 4 * CHUNK_ROWS + 9
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((n, 5)), rng.standard_normal((n, 3))
    gxy, gxx = gram([(x, y), (x, x)], n)
    np.testing.assert_allclose(gxy, x.T @ y, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(gxx, x.T @ x, rtol=1e-12, atol=1e-9)


def test_spgemm_matches_scipy_exactly(threads):
    left = _random_csr(3000, 2000, 0.05, seed=4)  # 300k non-zeros: split into bands
    right = _random_csr(2000, 500, 0.01, seed=5)
    got, expected = spgemm(left, right), sparse.csr_array(left @ right)
    got.sort_indices()
    expected.sort_indices()
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)


def test_spgemm_keeps_scipy_order_and_drops_cancelled_entries(threads):
    # without sorting: the same entries in the same order as SciPy's product;
    # the right matrix repeats columns with opposite signs, so that whole rows of
    # the product cancel to zero (SciPy drops those entries; the bands close the gaps)
    left = _random_csr(3000, 2000, 0.05, seed=6)
    half = _random_csr(2000, 250, 0.01, seed=7)
    right = sparse.csr_array(sparse.hstack([half, -half, half]))
    mixer = sparse.csr_array(sparse.vstack([right[:1000], right[:1000]]))
    for r in (right, mixer):
        got, expected = spgemm(left, r), sparse.csr_array(left @ r)
        np.testing.assert_array_equal(got.indptr, expected.indptr)
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.data, expected.data)
        assert got.indices.dtype == expected.indices.dtype
    # left @ [B; B] with left's two halves opposite: every entry cancels
    opposite = sparse.csr_array(sparse.hstack([left[:, :1000], -left[:, :1000]]))
    got = spgemm(opposite, mixer)
    assert got.nnz == sparse.csr_array(opposite @ mixer).nnz
    np.testing.assert_array_equal(got.indptr, sparse.csr_array(opposite @ mixer).indptr)


def test_spgemm_of_mixed_precision_matches_scipy(threads):
    left = _random_csr(3000, 2000, 0.05, dtype=np.float32, seed=8)
    right = _random_csr(2000, 500, 0.01, seed=9)
    got, expected = spgemm(left, right), sparse.csr_array(left @ right)
    assert got.dtype == expected.dtype == np.float64
    np.testing.assert_array_equal(got.toarray(), expected.toarray())


def test_eigensolver_is_bitwise_the_same_for_any_thread_count(monkeypatch):
    from specseg import spectral_embedding
    from specseg._graph import pixel_graph

    image = np.random.default_rng(6).random((200, 200))  # 40,000 nodes: "amg", 3 chunks
    image[:, 100:] += 1.0
    affinity = pixel_graph(image).affinity
    runs = []
    for value in ("1", "2", "4"):
        monkeypatch.setenv("SPECSEG_NUM_THREADS", value)
        runs.append(spectral_embedding(affinity, 4, solver="amg", random_state=0))
    for other in runs[1:]:
        np.testing.assert_array_equal(other, runs[0])


def test_pool_grows_for_more_threads(monkeypatch):
    monkeypatch.setattr(_parallel, "_pool", None)
    monkeypatch.setenv("SPECSEG_NUM_THREADS", "2")
    map_chunks(4 * CHUNK_ROWS, lambda a, b: None)
    monkeypatch.setenv("SPECSEG_NUM_THREADS", "4")
    map_chunks(4 * CHUNK_ROWS, lambda a, b: None)
    assert _parallel._pool._max_workers >= 4


@pytest.mark.parametrize("n", [1000, CHUNK_ROWS + 7])
def test_gram_stacked_or_not_gives_the_products(threads, n):
    rng = np.random.default_rng(5)
    x, t, p = (rng.standard_normal((n, 4)) for _ in range(3))
    pairs = [(x, t), (x, p), (t, t), (t, p), (p, p), (x, x)]
    for stacked in (None, True, False):
        for got, (left, right) in zip(gram(pairs, n, stacked=stacked), pairs, strict=True):
            np.testing.assert_allclose(got, left.T @ right, rtol=1e-12, atol=1e-9)

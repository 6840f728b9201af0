"""Every bad input gets a clear error: type and message pinned for each case.

The same validators serve ``segment``, ``pixel_graph`` and ``spectral_clustering``;
each message names the problem and the fix. See docs/robustness.md.
"""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.metrics import adjusted_rand_score

from specseg import pixel_graph, segment, spectral_clustering


def small_image(shape=(6, 7), seed=0):
    image = np.zeros(shape)
    image[:, shape[1] // 2 :] = 1.0
    return image + 0.05 * np.random.default_rng(seed).standard_normal(shape)


def image_entry_points():
    """Callables taking ``(image, **kwargs)`` for the image-level public API."""
    return [
        pytest.param(lambda image, **kw: segment(image, 2, **kw), id="segment"),
        pytest.param(lambda image, **kw: pixel_graph(image, **kw), id="pixel_graph"),
    ]


# --- image values and dtypes -------------------------------------------------------------


@pytest.mark.parametrize("call", image_entry_points())
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_pixels_refused(call, bad):
    image = small_image()
    image[2, 3] = bad
    with pytest.raises(ValueError, match=r"NaN or inf.*np\.nan_to_num"):
        call(image)


def test_nan_in_float32_and_float16_refused():
    for dtype in (np.float32, np.float16):
        image = small_image().astype(dtype)
        image[0, 0] = np.nan
        with pytest.raises(ValueError, match="NaN or inf"):
            segment(image, 2)


@pytest.mark.parametrize("call", image_entry_points())
@pytest.mark.parametrize(
    "image",
    [
        pytest.param(small_image().astype(complex), id="complex"),
        pytest.param(small_image().astype(object), id="object"),
        pytest.param(np.full((4, 4), "a"), id="str"),
        pytest.param(np.zeros((4, 4), "m8[s]"), id="timedelta"),
        pytest.param(np.zeros((4, 4), "M8[s]"), id="datetime"),
    ],
)
def test_non_real_dtype_refused(call, image):
    with pytest.raises(TypeError, match=r"dtype .* cannot be segmented; pass a real-valued"):
        call(image)


# --- image shape -------------------------------------------------------------------------


@pytest.mark.parametrize("call", image_entry_points())
def test_1d_image_refused_with_reshape_hint(call):
    with pytest.raises(ValueError, match=r"2-D or 3-D.*\(5,\).*1 x N image"):
        call(np.arange(5.0))


def test_channel_axis_on_a_grey_image_says_so():
    with pytest.raises(ValueError, match=r"\(64,\)\. channel_axis=-1 took one of the image's 2 "
                                         r"axes; a grey image has no channel axis"):
        segment(np.zeros((64, 64)), 2, channel_axis=-1)


@pytest.mark.parametrize("call", image_entry_points())
@pytest.mark.parametrize("shape", [(3, 3, 3, 3), (2, 2, 2, 2, 2)])
def test_4d_image_without_channel_axis_refused(call, shape):
    with pytest.raises(ValueError, match=r"2-D or 3-D.*pass channel_axis=-1"):
        call(np.zeros(shape))


def test_4d_image_with_channel_axis_is_a_colour_volume():
    volume = np.zeros((4, 4, 4, 3))
    volume[:, :, 2:, 0] = 1.0
    labels = segment(volume, 2, channel_axis=-1)
    assert labels.shape == (4, 4, 4)


@pytest.mark.parametrize("call", image_entry_points())
@pytest.mark.parametrize("shape", [(0, 5), (4, 0), (0, 0, 3)])
def test_empty_image_refused(call, shape):
    with pytest.raises(ValueError, match="image is empty.*pass a non-empty image"):
        call(np.zeros(shape))


def test_channel_axis_out_of_range():
    with pytest.raises(ValueError, match="channel_axis=3 is out of range"):
        segment(np.zeros((4, 4, 3)), 2, channel_axis=3)
    with pytest.raises(TypeError, match="channel_axis must be an int"):
        segment(np.zeros((4, 4, 3)), 2, channel_axis="last")


# --- mask --------------------------------------------------------------------------------


@pytest.mark.parametrize("call", image_entry_points())
@pytest.mark.parametrize("mask_shape", [(6, 6), (7, 6), (6, 7, 3)])
def test_mask_shape_mismatch_refused(call, mask_shape):
    with pytest.raises(ValueError, match=r"mask has shape .* spatial shape is \(6, 7\); pass a"):
        call(small_image(), mask=np.ones(mask_shape, bool))


@pytest.mark.parametrize("call", image_entry_points())
@pytest.mark.parametrize("dtype", [bool, np.uint8, float])
def test_empty_mask_refused(call, dtype):
    with pytest.raises(ValueError, match="mask is empty.*nothing to segment.*mask=None"):
        call(small_image(), mask=np.zeros((6, 7), dtype))


def test_non_boolean_mask_means_nonzero():
    image = small_image()
    mask = np.zeros(image.shape, bool)
    mask[1:5, 1:6] = True
    as_255 = np.where(mask, 255, 0).astype(np.uint8)
    np.testing.assert_array_equal(segment(image, 2, mask=as_255), segment(image, 2, mask=mask))
    np.testing.assert_array_equal(
        pixel_graph(image, mask=as_255.astype(float) / 255).mask, mask
    )


def test_string_mask_refused():
    with pytest.raises(TypeError, match="mask must be boolean or numeric"):
        segment(small_image(), 2, mask=np.full((6, 7), "x"))


# --- n_segments / n_clusters -------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, -10])
def test_n_segments_below_one_refused(n):
    with pytest.raises(ValueError, match=f"n_segments must be >= 1, got {n}; ask for at least"):
        segment(small_image(), n)


def test_n_segments_checked_before_the_graph_is_built(monkeypatch):
    import specseg._segment as seg

    def fail(*args, **kwargs):
        raise AssertionError("graph built before n_segments was checked")

    monkeypatch.setattr(seg, "pixel_graph", fail)
    with pytest.raises(ValueError, match="n_segments must be >= 1"):
        segment(small_image(), 0)


def test_more_segments_than_pixels_refused():
    with pytest.raises(ValueError, match=r"n_segments=43 is more than the 42 pixels.*at most 42"):
        segment(small_image(), 43)


def test_more_segments_than_pixels_inside_mask_refused():
    mask = np.zeros((6, 7), bool)
    mask[:2, :2] = True
    with pytest.raises(ValueError, match=r"n_segments=5 is more than the 4 pixels \(inside the"):
        segment(small_image(), 5, mask=mask)
    assert segment(small_image(), 4, mask=mask)[mask].tolist() == [0, 1, 2, 3]


def test_more_segments_than_regions_names_the_regions():
    image = np.zeros((24, 24))
    image[:, 12:] = 1
    labels, info = segment(image, 2.0, mode="regions", return_info=True)
    n_regions = info["n_nodes"]
    with pytest.raises(ValueError, match=rf"n_segments={n_regions + 1} is more than the "
                                         rf"{n_regions} superpixel regions.*mode='pixels'"):
        segment(image, float(n_regions + 1), mode="regions")
    assert segment(image, n_regions + 1, mode="pixels").max() == n_regions


@pytest.mark.parametrize("progress", [True, "bar"])
def test_progress_that_is_not_callable_refused_up_front(progress, monkeypatch):
    import specseg._segment as seg

    def fail(*args, **kwargs):
        raise AssertionError("graph built before progress was checked")

    monkeypatch.setattr(seg, "pixel_graph", fail)
    with pytest.raises(TypeError, match=r"progress must be None or a function .*got (bool|str)"):
        segment(small_image(), 2, mode="pixels", progress=progress)


@pytest.mark.parametrize("n", [2.5, float("nan"), None, [2]])
def test_non_integer_n_segments_refused(n):
    expected = 'n_segments must be an integer( or "auto")?, got .*pass a whole'
    with pytest.raises(TypeError, match=expected):
        segment(small_image(), n)


def test_integral_float_and_numpy_int_n_segments_accepted():
    reference = segment(small_image(), 2)
    np.testing.assert_array_equal(segment(small_image(), 2.0), reference)
    np.testing.assert_array_equal(segment(small_image(), np.int64(2)), reference)


def test_auto_n_clusters_refused_by_spectral_clustering():
    W = sparse.csr_array(np.ones((3, 3)) - np.eye(3))
    with pytest.raises(ValueError, match='n_clusters="auto" is not available here'):
        spectral_clustering(W, "auto")


@pytest.mark.parametrize("value", ["many", "AUTO", "", "3"])
def test_other_strings_refused(value):
    with pytest.raises(ValueError, match='n_segments must be an integer or "auto"'):
        segment(small_image(), value)


def test_spectral_clustering_names_n_clusters():
    W = sparse.csr_array(np.ones((3, 3)) - np.eye(3))
    with pytest.raises(ValueError, match="n_clusters must be >= 1"):
        spectral_clustering(W, 0)
    with pytest.raises(ValueError, match=r"n_clusters=4 is more than the 3 nodes"):
        spectral_clustering(W, 4)
    with pytest.raises(TypeError, match="n_clusters must be an integer"):
        spectral_clustering(W, 1.5)


# --- options -----------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    pytest.param(lambda **kw: segment(small_image(), 2, **kw), id="segment"),
    pytest.param(
        lambda **kw: spectral_clustering(pixel_graph(small_image()).affinity, 2, **kw),
        id="spectral_clustering",
    ),
])
def test_unknown_solver_and_assign_list_valid_names(call):
    with pytest.raises(ValueError, match=(
        r"'magic' is not a valid solver\. Valid solvers are 'auto', 'arpack', 'lobpcg', "
        r"'amg', 'dense'\."
    )):
        call(solver="magic")
    with pytest.raises(ValueError, match=(
        r"'magic' is not a valid assignment method\. Valid assignment methods are "
        r"'cluster_qr', 'kmeans', 'discretize'\."
    )):
        call(assign="magic")
    with pytest.raises(ValueError, match="Valid solvers"):
        call(solver=None)


@pytest.mark.parametrize("call", image_entry_points())
@pytest.mark.parametrize("beta", [-1.0, -1e-9, np.nan, np.inf])
def test_negative_or_nan_beta_refused(call, beta):
    with pytest.raises(ValueError, match=r"beta must be a finite number >= 0, got"):
        call(small_image(), beta=beta)


def test_non_numeric_beta_refused():
    with pytest.raises(TypeError, match="beta must be a real number"):
        segment(small_image(), 2, beta="1")


def test_zero_beta_accepted():
    labels = segment(small_image(), 2, beta=0.0)
    assert sorted(np.unique(labels)) == [0, 1]


def test_bad_random_state_refused():
    with pytest.raises(TypeError, match="random_state must be None, an int or a numpy"):
        segment(small_image(), 2, random_state="seed")
    with pytest.raises(ValueError, match="random_state must be a non-negative integer"):
        segment(small_image(), 2, random_state=-1)


# --- spectral_clustering affinities ------------------------------------------------------


def two_cliques():
    W = np.zeros((6, 6))
    W[:3, :3] = W[3:, 3:] = 1.0
    W[2, 3] = W[3, 2] = 0.05
    np.fill_diagonal(W, 0)
    return W


@pytest.mark.parametrize("container", [np.asarray, sparse.csr_array, sparse.coo_matrix])
def test_negative_affinity_refused(container):
    W = two_cliques()
    W[0, 1] = W[1, 0] = -0.5
    with pytest.raises(ValueError, match="negative weights.*non-negative affinities"):
        spectral_clustering(container(W), 2)


def test_nan_affinity_refused():
    W = two_cliques()
    W[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf weights.*np.nan_to_num"):
        spectral_clustering(W, 2)


def test_float16_affinity_works():
    W = two_cliques()
    np.testing.assert_array_equal(spectral_clustering(W.astype(np.float16), 2),
                                  spectral_clustering(W, 2))


def test_sklearn_option_names_read_well_in_errors():
    with pytest.raises(ValueError, match=r"'km' is not a valid assign_labels\. Valid values of "
                                         r"assign_labels are 'cluster_qr'"):
        spectral_clustering(two_cliques(), 2, assign_labels="km")


@pytest.mark.parametrize("container", [np.asarray, sparse.csr_array, sparse.coo_matrix])
@pytest.mark.parametrize("top", [1e306, np.finfo(np.float64).max])
def test_huge_affinity_weights_give_the_same_clusters(container, top):
    # the degrees and cut sums of such weights overflow unless they are scaled down
    W = two_cliques() * (top / 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = spectral_clustering(container(W), 2)
    assert adjusted_rand_score(labels, [0, 0, 0, 1, 1, 1]) == 1.0


@pytest.mark.parametrize("W, error, match", [
    (np.ones((2, 3)), ValueError, r"square \(n_nodes, n_nodes\) matrix, got shape \(2, 3\)"),
    (np.ones((1, 2, 2)), ValueError, r"square \(n_nodes, n_nodes\) matrix, got shape \(1, 2, 2\)"),
    (np.zeros((0, 0)), ValueError, "affinity is empty"),
    (np.ones((2, 2), complex), ValueError, "affinity must be real, got complex weights"),
    (sparse.csr_array(np.ones((2, 2), complex)), ValueError, "affinity must be real, got complex"),
    (np.array([["a", "b"], ["c", "d"]]), ValueError, "affinity must hold numbers, got dtype <U1"),
    (np.array([[0, None], [None, 0]], dtype=object), ValueError, "affinity contains NaN"),
])
def test_malformed_affinity_refused(W, error, match):
    with pytest.raises(error, match=match):
        spectral_clustering(W, 1)


def test_non_symmetric_affinity_symmetrised_with_warning():
    W = two_cliques()
    W[0, 4] = 0.02  # one-sided edge
    with pytest.warns(UserWarning, match=r"not symmetric; using \(A \+ A.T\) / 2"):
        labels = spectral_clustering(W, 2)
    symmetric = (W + W.T) / 2
    np.testing.assert_array_equal(labels, spectral_clustering(symmetric, 2))


def test_np_matrix_affinity_refused_like_sklearn():
    # scikit-learn refuses np.matrix with a TypeError, before any value check
    # (n_clusters=8 is more than the 6 nodes here)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # numpy's, about np.matrix
        W = np.asmatrix(two_cliques())
    with pytest.raises(TypeError, match=r"np\.matrix is not supported.*\.toarray\(\)"):
        spectral_clustering(W)
    assert spectral_clustering(np.asarray(W), 2).tolist() == [0, 0, 0, 1, 1, 1]


def test_np_matrix_image_works():
    image = small_image()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        as_matrix = np.asmatrix(image)
    np.testing.assert_array_equal(segment(as_matrix, 2), segment(image, 2))


# --- dtypes that must work ---------------------------------------------------------------


def dtype_picture():
    """Small integer intensities, exact in every dtype down to bool and float16."""
    base = np.zeros((12, 14))
    base[3:9, 4:11] = 1
    return base


@pytest.mark.parametrize("dtype", [
    bool, np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.uint64,
    np.float16, np.float32, np.float64,
])
def test_dtypes_give_the_same_segments(dtype):
    picture = dtype_picture()
    reference = segment(picture, 2)
    assert adjusted_rand_score(picture.ravel(), reference.ravel()) == 1.0
    np.testing.assert_array_equal(segment(picture.astype(dtype), 2), reference)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float16, np.float32])
def test_noisy_dtypes_give_the_same_segments(dtype):
    rng = np.random.default_rng(3)
    picture = dtype_picture() * 100 + rng.integers(0, 30, (12, 14))  # exact in float16
    reference = segment(picture.astype(np.float64), 3)
    np.testing.assert_array_equal(segment(picture.astype(dtype), 3), reference)


# --- check_affinity: result and the caller's matrix ----------------------------------------


def reference_affinity(W):
    """What check_affinity returns, computed densely: no diagonal, symmetrised if needed."""
    W = np.array(W, dtype=np.float64)
    np.fill_diagonal(W, 0.0)
    asym = np.abs(W - W.T).max()
    if asym > 1e-10 * max(np.abs(W).max(), 1.0):
        W = (W + W.T) * 0.5
    return W


def affinity_containers():
    """Each way of passing a (possibly messy) affinity, built from COO entries."""
    def csr_with_duplicates(row, col, data, n):
        order = np.argsort(row, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))])
        return sparse.csr_matrix((data[order], col[order], indptr), shape=(n, n))

    return {
        "coo_matrix": lambda r, c, d, n: sparse.coo_matrix((d, (r, c)), shape=(n, n)),
        "coo_array": lambda r, c, d, n: sparse.coo_array((d, (r, c)), shape=(n, n)),
        "csr_array": lambda r, c, d, n: sparse.csr_array((d, (r, c)), shape=(n, n)),
        "csr with duplicates": csr_with_duplicates,
        "csc_array": lambda r, c, d, n: sparse.csc_array((d, (r, c)), shape=(n, n)),
        "dense": lambda r, c, d, n: sparse.coo_array((d, (r, c)), shape=(n, n)).toarray(),
        "float32 coo": lambda r, c, d, n: sparse.coo_array(
            (d.astype(np.float32), (r, c)), shape=(n, n)
        ),
    }


def messy_entries(seed, n=7, symmetric=True):
    """COO entries with a partial diagonal, duplicates and explicit zeros."""
    rng = np.random.default_rng(seed)
    row = rng.integers(0, n, 30)
    col = rng.integers(0, n, 30)
    data = rng.choice([0.0, 0.25, 0.5, 1.0], 30)
    if symmetric:
        row, col, data = np.r_[row, col], np.r_[col, row], np.r_[data, data]
    return row, col, data


def stored_arrays(matrix):
    if isinstance(matrix, np.ndarray):
        return [matrix.copy()]
    names = ("data", "row", "col") if matrix.format == "coo" else ("data", "indices", "indptr")
    return [getattr(matrix, name).copy() for name in names]


@pytest.mark.parametrize("name", list(affinity_containers()))
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_check_affinity_result_and_caller_unchanged(name, symmetric, seed):
    from specseg._validation import check_affinity

    row, col, data = messy_entries(seed, symmetric=symmetric)
    n = 7
    W = affinity_containers()[name](row, col, data, n)
    dense = sparse.coo_array((data, (row, col)), shape=(n, n)).toarray()
    before = stored_arrays(W)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = check_affinity(W)
    for old, new in zip(before, stored_arrays(W), strict=True):
        np.testing.assert_array_equal(new, old)  # the caller's arrays are untouched
        assert new.dtype == old.dtype
    assert isinstance(result, sparse.csr_array) and result.dtype == np.float64
    assert result.indices.dtype == result.indptr.dtype == np.int32  # whatever came in
    assert result.has_canonical_format
    assert (result.data != 0).all()  # no explicit zeros
    assert (result.diagonal() == 0).all() and not (result.tocoo().row == result.tocoo().col).any()
    expected = reference_affinity(dense.astype(np.float32) if "float32" in name else dense)
    np.testing.assert_allclose(result.toarray(), expected, rtol=1e-15, atol=0)
    assert bool(caught) == (not np.allclose(expected, dense * (1 - np.eye(n))))


def test_check_affinity_large_coo_graph_unchanged():
    # the image-graph case: COO with a full diagonal
    from sklearn.feature_extraction.image import img_to_graph

    from specseg._validation import check_affinity

    graph = img_to_graph(np.random.default_rng(0).random((12, 9)))
    graph.data = np.exp(-graph.data / graph.data.std())
    before = stored_arrays(graph)
    result = check_affinity(graph)
    for old, new in zip(before, stored_arrays(graph), strict=True):
        np.testing.assert_array_equal(new, old)
    expected = graph.toarray()
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_array_equal(result.toarray(), expected)
    assert result.nnz == graph.nnz - 12 * 9
    assert graph.row.dtype == np.int64 and result.indices.dtype == np.int32


def test_check_affinity_narrows_64_bit_indices():
    from specseg._validation import check_affinity

    row, col, data = messy_entries(0)
    W = sparse.csr_array((data, (row, col)), shape=(7, 7))
    W.sum_duplicates()
    W.eliminate_zeros()
    W.setdiag(0)
    W.eliminate_zeros()
    wide = sparse.csr_array(
        (W.data, W.indices.astype(np.int64), W.indptr.astype(np.int64)), shape=W.shape
    )
    result = check_affinity(wide)
    assert wide.indices.dtype == np.int64  # the caller's matrix is untouched
    assert result.indices.dtype == result.indptr.dtype == np.int32
    np.testing.assert_array_equal(result.toarray(), W.toarray())
    assert result.has_canonical_format


def test_check_affinity_checks_weights_before_dropping_the_diagonal():
    from specseg._validation import check_affinity

    W = sparse.coo_array(([1.0, 1.0, np.nan], ([0, 1, 2], [1, 0, 2])), shape=(3, 3))
    with pytest.raises(ValueError, match="NaN or inf weights"):
        check_affinity(W)
    W = sparse.coo_array(([1.0, 1.0, -1.0], ([0, 1, 2], [1, 0, 2])), shape=(3, 3))
    with pytest.raises(ValueError, match="negative weights"):
        check_affinity(W)
    # duplicates are summed before the checks: -1 + 2 is a valid weight ...
    W = sparse.coo_array(([1.0, 1.0, -1.0, 2.0], ([0, 1, 2, 2], [1, 0, 2, 2])), shape=(3, 3))
    assert check_affinity(W).nnz == 2
    # ... and 2 x 1e308 is not
    W = sparse.coo_array(([1.0, 1.0, 1e308, 1e308], ([0, 1, 2, 2], [1, 0, 2, 2])), shape=(3, 3))
    with pytest.raises(ValueError, match="NaN or inf weights"):
        check_affinity(W)


def test_check_affinity_symmetry_tolerance():
    from specseg._validation import check_affinity

    W = sparse.csr_array(np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], dtype=float))
    nearly = W.copy()
    nearly.data[0] += 1e-12  # same pattern, within the tolerance
    for within in (W, nearly):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert check_affinity(within) is not None
    off = W.copy()
    off.data[0] = 1.5  # same pattern, different weights
    one_sided = sparse.csr_array(np.array([[0, 1, 2], [1, 0, 3], [0, 3, 0]], dtype=float))
    for asymmetric in (off, one_sided):
        with pytest.warns(UserWarning, match="not symmetric"):
            result = check_affinity(asymmetric)
        np.testing.assert_array_equal(result.toarray(), result.toarray().T)
    # a one-sided weight far below the tolerance is left as it is, without a warning
    tiny_edge = W.toarray()
    tiny_edge[2, 0] = 0.0
    tiny_edge[0, 2] = 1e-20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(check_affinity(tiny_edge).toarray(), tiny_edge)


@pytest.mark.parametrize("seed", range(5))
def test_drop_diagonal_matches_coo_filter(seed):
    from specseg._validation import _drop_diagonal

    rng = np.random.default_rng(seed)
    n = 9
    dense = rng.random((n, n)) * (rng.random((n, n)) < 0.4)
    dense[rng.random(n) < 0.5] = 0.0  # some empty rows
    np.fill_diagonal(dense, np.where(rng.random(n) < 0.6, 1.0, 0.0))
    matrix = sparse.csr_array(dense)
    result = _drop_diagonal(matrix)
    expected = dense.copy()
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_array_equal(result.toarray(), expected)
    assert result.nnz == np.count_nonzero(expected)
    assert result.has_canonical_format
    assert not np.may_share_memory(result.data, matrix.data) or result is matrix
    no_diagonal = sparse.csr_array(expected)
    assert _drop_diagonal(no_diagonal) is no_diagonal


def test_check_affinity_keeps_callers_explicit_zeros():
    from specseg._validation import check_affinity

    W = sparse.csr_matrix(
        (np.array([1.0, 0.0, 1.0, 0.0]), np.array([1, 2, 0, 0]), np.array([0, 2, 3, 4])),
        shape=(3, 3),
    )
    before = stored_arrays(W)
    result = check_affinity(W)
    assert W.nnz == 4
    for old, new in zip(before, stored_arrays(W), strict=True):
        np.testing.assert_array_equal(new, old)
    assert result.nnz == 2 and (result.data == 1.0).all()


# --- NaN / inf pixels (no data) outside the mask --------------------------------------------

def _no_data_scene():
    """A 64 x 64 float32 scene of three shapes; columns 0-5 are no data (NaN, one inf)."""
    from specseg.datasets import shapes

    image = shapes(64, n_shapes=3, noise=0.02, random_state=0)[0].astype(np.float32)
    mask = np.ones(image.shape, bool)
    mask[:, :6] = False
    with_nan = image.copy()
    with_nan[~mask] = np.nan
    with_nan[3, 2] = np.inf
    return image, mask, with_nan


@pytest.mark.parametrize("mode", ["pixels", "regions", "contours", "auto"])
def test_nan_outside_the_mask_accepted_in_every_mode(mode):
    image, mask, with_nan = _no_data_scene()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NaN reaches a statistic
        labels = segment(with_nan, 3, mask=mask, mode=mode, random_state=0)
    assert (labels[~mask] == -1).all() and labels[mask].min() == 0
    # the same as the image whose no-data pixels hold the median inside the mask
    filled = image.copy()
    filled[~mask] = np.median(image[mask])
    np.testing.assert_array_equal(
        labels, segment(filled, 3, mask=mask, mode=mode, random_state=0))


def test_nan_outside_the_mask_never_enters_the_pixel_graph():
    image, mask, with_nan = _no_data_scene()
    other = image.copy()
    other[~mask] = 1e6
    np.testing.assert_array_equal(segment(with_nan, 3, mask=mask, mode="pixels"),
                                  segment(other, 3, mask=mask, mode="pixels"))
    graph = pixel_graph(with_nan, mask=mask)
    assert np.isfinite(graph.affinity.data).all()


def test_nan_outside_the_mask_of_a_colour_volume():
    from specseg.datasets import balls

    volume = balls(24, n_balls=2, noise=0.05, random_state=0)[0]
    colour = np.stack([volume, volume, 1 - volume], axis=-1)
    colour[:, :, :3, 1] = np.nan  # one channel is enough to make a pixel no-data
    mask = np.isfinite(colour).all(axis=-1)
    labels = segment(colour, 3, mask=mask, channel_axis=-1, random_state=0)
    assert labels.shape == volume.shape and (labels[:, :, :3] == -1).all()


def test_nan_without_mask_names_both_fixes():
    _, _, with_nan = _no_data_scene()
    with pytest.raises(ValueError, match=r"384 of 4096 pixels that are NaN or inf.*"
                       r"mask=np\.isfinite\(image\).*np\.nan_to_num.*specseg command"):
        segment(with_nan, 3)
    with pytest.raises(ValueError, match=r"mask=np\.isfinite\(image\)\.all\(axis=-1\)"):
        segment(np.stack([with_nan] * 3, axis=-1), 3, channel_axis=-1)


def test_nan_inside_the_mask_refused():
    _, mask, with_nan = _no_data_scene()
    mask[:, 5] = True
    with pytest.raises(ValueError, match=r"64 pixels inside the mask that are NaN or inf.*"
                       r"mask & np\.isfinite\(image\)"):
        segment(with_nan, 3, mask=mask)


@pytest.mark.parametrize("spacing, match", [
    ("abc", "spacing must be numbers.*'abc'"),
    (["a", 1], r"spacing must be numbers.*\['a', 1\]"),
    ([1, None], "spacing must be numbers"),
    ([1, 2, 3], "spacing has 3 values but the image has 2 spatial axes"),
    ([1, -2], "spacing must be positive and finite"),
])
@pytest.mark.parametrize("mode", ["pixels", "regions"])
def test_bad_spacing_refused_by_name(spacing, match, mode):
    with pytest.raises(ValueError, match=match):
        segment(small_image(), 2, mode=mode, spacing=spacing)


def test_nan_outside_the_mask_accepted_by_the_graph_builders():
    from specseg import hierarchy, region_graph

    _, mask, with_nan = _no_data_scene()
    assert np.isfinite(region_graph(with_nan, mask=mask).affinity.data).all()
    labels = hierarchy(with_nan, mask=mask).cut(n_segments=3)
    assert (labels[~mask] == -1).all() and labels[mask].min() == 0


def test_all_finite_checks_in_pieces():
    from specseg._validation import _all_finite

    image = np.zeros((7, 5, 3))
    assert _all_finite(image, chunk=4)
    for index in [(0, 0, 0), (6, 4, 2), (3, 2, 1)]:
        bad = image.copy()
        bad[index] = np.nan
        assert not _all_finite(bad, chunk=4) and not _all_finite(bad.ravel(), chunk=4)


def test_object_affinity_of_numbers_is_converted_as_scikit_learn_converts_it():
    W = two_cliques()
    labels = spectral_clustering(W.astype(object), 2, random_state=0)
    np.testing.assert_array_equal(labels, spectral_clustering(W, 2, random_state=0))


@pytest.mark.parametrize("container", [np.asarray, sparse.csr_array, sparse.coo_array])
def test_tiny_weights_are_scaled_up(container):
    # every weight near the smallest float: the roots of the degrees underflowed,
    # the embedding overflowed and k-means found one cluster
    W = two_cliques() * 1e-320
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = spectral_clustering(container(W), 2, random_state=0)
    assert adjusted_rand_score(labels, [0, 0, 0, 1, 1, 1]) == 1.0


def test_unsorted_affinity_rows_are_checked_for_symmetry_like_sorted_ones():
    from specseg._validation import check_affinity

    W = two_cliques()
    W[0, 4] = 0.02  # one-sided edge
    for matrix, asymmetric in ((sparse.csr_array(two_cliques()), False),
                               (sparse.csr_array(W), True)):
        # the same rows with their entries reversed (as k-NN graphs list neighbours
        # by distance), and with a duplicate entry split in two
        bounds = list(zip(matrix.indptr[:-1], matrix.indptr[1:], strict=True))
        rows = [matrix.indices[a:b][::-1] for a, b in bounds]
        data = [matrix.data[a:b][::-1] for a, b in bounds]
        unsorted = sparse.csr_array((np.concatenate(data), np.concatenate(rows), matrix.indptr),
                                    shape=matrix.shape)
        # row 0 holds its first entry twice, split in halves
        rows[0], data[0] = np.r_[rows[0], rows[0][0]], np.r_[data[0], 0.0]
        data[0][0] /= 2
        data[0][-1] = data[0][0]
        indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])])
        split = sparse.csr_array((np.concatenate(data), np.concatenate(rows), indptr),
                                 shape=matrix.shape)
        for given in (unsorted, split):
            assert not given.has_canonical_format
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                checked = check_affinity(given)
            assert any("not symmetric" in str(w.message) for w in caught) == asymmetric
            expected = check_affinity(matrix) if not asymmetric else None
            if expected is not None:
                assert (checked != expected).nnz == 0

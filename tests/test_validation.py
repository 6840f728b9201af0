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


@pytest.mark.parametrize("W, error, match", [
    (np.ones((2, 3)), ValueError, r"square \(n_nodes, n_nodes\) matrix, got shape \(2, 3\)"),
    (np.zeros((0, 0)), ValueError, "affinity is empty"),
    (np.ones((2, 2), complex), TypeError, "affinity must be a real matrix"),
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


def test_np_matrix_affinity_works():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # numpy's, about np.matrix
        W = np.asmatrix(two_cliques())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = spectral_clustering(W, 2)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]


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

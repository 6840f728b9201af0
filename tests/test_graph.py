import numpy as np
import pytest
from scipy import sparse

from specseg import Graph, pixel_graph

from .conftest import two_region_image


def _check_invariants(graph):
    W = graph.affinity
    assert isinstance(W, sparse.csr_array)
    assert abs(W - W.T).max() == 0
    assert np.all(W.diagonal() == 0)
    assert W.data.min() > 0 and W.data.max() <= 1
    laplacian = sparse.diags(np.asarray(W.sum(axis=1)).ravel()) - W
    np.testing.assert_allclose(np.asarray(laplacian.sum(axis=1)).ravel(), 0, atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 7), (4, 5, 3)])
@pytest.mark.parametrize("connectivity", [1, 2])
@pytest.mark.parametrize("use_mask", [False, True])
def test_graph_invariants(shape, connectivity, use_mask, rng):
    image = rng.random(shape)
    mask = rng.random(shape) > 0.3 if use_mask else None
    graph = pixel_graph(image, mask=mask, connectivity=connectivity)
    _check_invariants(graph)
    n_expected = image.size if mask is None else int(mask.sum())
    assert graph.n_nodes == n_expected
    assert graph.shape == shape


def test_edge_count_matches_brute_force(rng):
    image = rng.random((5, 6))
    mask = rng.random((5, 6)) > 0.25
    graph = pixel_graph(image, mask=mask, connectivity=2)
    coords = np.argwhere(mask)
    expected = 0
    for a in range(len(coords)):
        for b in range(a + 1, len(coords)):
            if np.abs(coords[a] - coords[b]).max() == 1:
                expected += 1
    assert graph.n_edges == expected


def test_weights_formula():
    image = np.array([[0.0, 1.0, 3.0]])
    graph = pixel_graph(image, beta=2.0)
    diffs = np.array([1.0, 2.0])
    scale = np.sqrt(np.mean(diffs**2))
    np.testing.assert_allclose(graph.affinity[[0], [1]], np.exp(-2.0 * 1.0 / scale))
    np.testing.assert_allclose(graph.affinity[[1], [2]], np.exp(-2.0 * 2.0 / scale))
    assert graph.scale == pytest.approx(scale)


def test_full_connectivity_distance_weighting():
    graph = pixel_graph(np.zeros((3, 3)), connectivity=2)
    assert graph.affinity[0, 1] == pytest.approx(1.0)
    assert graph.affinity[0, 4] == pytest.approx(1 / np.sqrt(2))
    assert graph.n_edges == 12 + 8


def test_masked_pixels_are_absent():
    mask = np.ones((4, 4), bool)
    mask[1, 1] = False
    graph = pixel_graph(np.arange(16.0).reshape(4, 4), mask=mask)
    assert graph.n_nodes == 15
    labels = graph.to_image(np.arange(15))
    assert labels[1, 1] == -1
    assert sorted(labels[mask].tolist()) == list(range(15))


def test_constant_image_gives_finite_unit_weights():
    graph = pixel_graph(np.full((5, 5), 7, dtype=np.uint8))
    assert np.all(np.isfinite(graph.affinity.data))
    np.testing.assert_array_equal(graph.affinity.data, 1.0)


def test_uint8_does_not_wrap():
    image = np.array([[0, 255]], dtype=np.uint8)
    flipped = np.array([[255, 0]], dtype=np.uint8)
    a = pixel_graph(np.array([[0, 255, 255]], dtype=np.uint8)).affinity.toarray()
    b = pixel_graph(np.array([[0, 255, 255]], dtype=np.float64)).affinity.toarray()
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(
        pixel_graph(image).affinity.toarray(), pixel_graph(flipped).affinity.toarray()
    )


@pytest.mark.parametrize("factor", [0.01, 3.0, 1000.0])
def test_scaling_intensities_leaves_graph_unchanged(factor):
    image = two_region_image()
    a = pixel_graph(image).affinity
    b = pixel_graph(image * factor).affinity
    np.testing.assert_allclose(a.toarray(), b.toarray(), rtol=1e-10)


@pytest.mark.parametrize("exponent", [-1000, -600, 600, 1000])
@pytest.mark.parametrize("channels", [None, 2])
def test_extreme_intensities_leave_graph_unchanged(exponent, channels, rng):
    # squared differences of such values overflow to inf (or underflow to 0)
    image = two_region_image()
    if channels is not None:
        image = np.stack([image, rng.random(image.shape)], axis=-1)
    axis = None if channels is None else -1
    a = pixel_graph(image, channel_axis=axis)
    b = pixel_graph(np.ldexp(image, exponent), channel_axis=axis)
    np.testing.assert_array_equal(a.affinity.toarray(), b.affinity.toarray())
    assert b.scale == np.ldexp(a.scale, exponent)


def test_huge_intensities_outside_the_mask_are_ignored(rng):
    image = rng.random((6, 7))
    mask = np.ones(image.shape, bool)
    mask[0] = False
    huge = image.copy()
    huge[0] = 1e300
    np.testing.assert_array_equal(pixel_graph(image, mask=mask).affinity.toarray(),
                                  pixel_graph(huge, mask=mask).affinity.toarray())


def test_rgb_is_colour_not_volume(rng):
    rgb = rng.random((6, 7, 3))
    graph = pixel_graph(rgb, channel_axis=-1)
    assert graph.shape == (6, 7)
    assert graph.n_nodes == 42
    diff = np.linalg.norm(rgb[0, 0] - rgb[0, 1])
    np.testing.assert_allclose(graph.affinity[[0], [1]], np.exp(-diff / graph.scale))


def test_grey_as_equal_channels_matches_grey(rng):
    grey = rng.random((6, 7))
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    a = pixel_graph(grey).affinity.toarray()
    b = pixel_graph(rgb, channel_axis=-1).affinity.toarray()
    np.testing.assert_allclose(a, b)


def test_spacing_weights_axes():
    graph = pixel_graph(np.zeros((3, 3)), spacing=(2.0, 1.0))
    assert graph.affinity[0, 1] == pytest.approx(1.0)  # along the fine axis
    assert graph.affinity[0, 3] == pytest.approx(0.5)  # along the coarse axis


def test_graph_is_frozen():
    graph = pixel_graph(np.zeros((2, 2)))
    assert isinstance(graph, Graph)
    with pytest.raises(AttributeError):
        graph.shape = (1, 4)


@pytest.mark.parametrize("connectivity", [0, 3, 1.5])
def test_bad_connectivity(connectivity):
    with pytest.raises(ValueError, match="connectivity"):
        pixel_graph(np.zeros((3, 3)), connectivity=connectivity)

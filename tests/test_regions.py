import numpy as np
import pytest
from scipy import sparse
from sklearn.metrics import adjusted_rand_score

from specseg import pixel_graph, region_graph, segment, spectral_clustering
from specseg._features import image_features
from specseg._regions import RegionStatistics
from specseg.datasets import hue_regions, shapes


@pytest.fixture(scope="module")
def scene():
    return shapes(96, n_shapes=3, noise=0.05, random_state=1)


def test_region_graph_contract(scene):
    image, _ = scene
    graph = region_graph(image, n_regions=60)
    a = graph.affinity
    assert isinstance(a, sparse.csr_array)
    assert abs(a - a.T).max() < 1e-12
    assert a.diagonal().max() == 0 and a.data.min() > 0
    assert graph.node_map.shape == image.shape
    assert set(np.unique(graph.node_map)) == set(range(graph.n_nodes))
    labels = graph.to_image(np.arange(graph.n_nodes))
    np.testing.assert_array_equal(labels, graph.node_map)


def test_region_statistics_brute_force(rng):
    labels = rng.integers(0, 4, (6, 7))
    features = rng.random((6, 7, 2))
    stats = RegionStatistics.from_labels(features, labels)
    for r in range(4):
        np.testing.assert_allclose(stats.mean[r], features[labels == r].mean(axis=0))
    length = {}
    for p in np.ndindex(6, 7):
        for q in ((p[0] + 1, p[1]), (p[0], p[1] + 1)):
            if q[0] < 6 and q[1] < 7 and labels[p] != labels[q]:
                key = tuple(sorted((labels[p], labels[q])))
                length[key] = length.get(key, 0) + 1
    assert {tuple(p): n for p, n in zip(stats.pairs.tolist(), stats.length, strict=True)} == length


def test_statistics_merge_across_blocks(rng):
    """Statistics of two blocks merge into those of the whole (block-wise processing)."""
    labels = rng.integers(0, 5, (8, 6))
    features = rng.random((8, 6, 1))
    whole = RegionStatistics.from_labels(features, labels, n_regions=5)
    top = RegionStatistics.from_labels(features[:4], labels[:4], n_regions=5)
    bottom = RegionStatistics.from_labels(features[4:], labels[4:], n_regions=5)
    # the faces between the blocks (rows 3 | 4) are counted once, by the seam
    merged = top.merge(bottom).merge(seam_faces(features, labels, 3))
    np.testing.assert_allclose(merged.count, whole.count)
    np.testing.assert_allclose(merged.total, whole.total)
    np.testing.assert_array_equal(merged.pairs, whole.pairs)
    np.testing.assert_allclose(merged.length, whole.length)
    np.testing.assert_allclose(merged.contrast, whole.contrast)


def seam_faces(features, labels, row):
    """Statistics holding only the faces between ``row`` and ``row + 1``."""
    a, b = labels[row], labels[row + 1]
    face = a != b
    n = 5
    keys = np.minimum(a, b)[face] * n + np.maximum(a, b)[face]
    diff = np.linalg.norm(features[row][face] - features[row + 1][face], axis=-1)
    unique, inverse = np.unique(keys, return_inverse=True)
    return RegionStatistics(
        np.zeros(n), np.zeros((n, 1)), np.zeros((n, 1)),
        np.stack([unique // n, unique % n], axis=1),
        np.bincount(inverse, minlength=unique.size).astype(float),
        np.bincount(inverse, diff, minlength=unique.size),
    )


@pytest.mark.parametrize("method", ["slic", "watershed"])
def test_region_segmentation_finds_shapes(scene, method):
    image, truth = scene
    graph = region_graph(image, n_regions=150, superpixel_method=method)
    labels = graph.to_image(spectral_clustering(graph.affinity, 4))
    assert adjusted_rand_score(truth.ravel(), labels.ravel()) > 0.85


def test_mask_gives_minus_one_outside(scene):
    image, _ = scene
    mask = np.zeros(image.shape, bool)
    mask[8:80, 8:80] = True
    graph = region_graph(image, n_regions=40, mask=mask)
    assert np.all(graph.node_map[~mask] == -1)
    assert np.all(graph.node_map[mask] >= 0)


def test_same_picture_in_any_dtype_gives_same_regions(scene):
    image, _ = scene
    as_uint8 = np.round((image - image.min()) / np.ptp(image) * 255).astype(np.uint8)
    reference = region_graph(as_uint8.astype(np.float64), n_regions=50).node_map
    for variant in (as_uint8, as_uint8.astype(np.float32) * 4.0, as_uint8 / 255.0 * 8.0):
        np.testing.assert_array_equal(region_graph(variant, n_regions=50).node_map, reference)


def test_constant_image_is_finite():
    graph = region_graph(np.full((32, 32), 7.0), n_regions=16)
    assert np.isfinite(graph.affinity.data).all() and graph.n_nodes >= 2
    labels = segment(np.full((64, 64), 3.0), 2)
    assert set(np.unique(labels)) == {0, 1}


def test_lab_features_separate_equal_lightness_hues():
    image, truth = hue_regions(48, n_regions=2, noise=0.0, random_state=0)
    lab = image_features(image)
    # lightness (first channel) is nearly constant, hue channels are not
    assert np.ptp(lab[..., 0]) < 0.05 < np.ptp(lab[..., 1:])
    with pytest.raises(ValueError, match="3-channel"):
        image_features(np.zeros((4, 4, 2)), colour_space="lab")


def test_volume_region_graph(rng):
    volume = np.zeros((20, 20, 20))
    volume[:, :, 10:] = 1.0
    volume += 0.1 * rng.standard_normal(volume.shape)
    graph = region_graph(volume, n_regions=40)
    assert graph.node_map.shape == volume.shape
    labels = segment(volume, 2, mode="regions", n_regions=40)
    truth = np.zeros(volume.shape, int)
    truth[:, :, 10:] = 1
    assert adjusted_rand_score(truth.ravel(), labels.ravel()) > 0.95


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"superpixel_method": "quickshift"}, "superpixel method"),
        ({"colour_space": "hsv"}, "colour space"),
        ({"n_regions": 0}, "n_regions"),
        ({"beta": -1.0}, "beta"),
    ],
)
def test_region_graph_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        region_graph(np.zeros((16, 16)), **kwargs)


def test_pixel_graph_radius_and_edge_term(rng):
    image = rng.random((8, 9))
    near = pixel_graph(image)
    wide = pixel_graph(image, radius=2.0)
    assert wide.n_edges > pixel_graph(image, connectivity=2).n_edges > near.n_edges
    # Shi & Malik spatial term: exp(-d^2 / r^2) for a pair two pixels apart
    diff = abs(image[0, 0] - image[0, 2])
    expected = np.exp(-diff / wide.scale) * np.exp(-4.0 / 4.0)
    assert wide.affinity[[0], [2]][0] == pytest.approx(expected)
    edged = pixel_graph(image, edge_weight=1.0)
    assert (edged.affinity.data <= near.affinity.data + 1e-15).all()


def test_pixel_graph_median_scale_and_lab(rng):
    image = rng.random((6, 7))
    graph = pixel_graph(image, scale="median")
    diffs = np.r_[np.abs(np.diff(image, axis=0)).ravel(), np.abs(np.diff(image, axis=1)).ravel()]
    assert graph.scale == pytest.approx(np.median(diffs))
    colour = rng.random((6, 7, 3))
    lab = pixel_graph(colour, channel_axis=-1, colour_space="lab")
    assert lab.n_edges == pixel_graph(colour, channel_axis=-1).n_edges
    with pytest.raises(ValueError, match="scale"):
        pixel_graph(image, scale="mean")


def test_contrast_scale_has_a_floor_so_impure_regions_stay_linked():
    """Large regions (volumes) have nearly noiseless means, so their median
    contrast is tiny; without a floor under the kernel's scale a region whose
    mean is pulled a little (a few boundary voxels of the next object) would be
    cut off as if it were an object of its own."""
    from specseg._regions import CONTRAST_FLOOR, region_affinity

    n = 40  # a chain of regions: 0 .. 19 one object (region 10 slightly impure), 20 .. 39 another
    level = np.where(np.arange(n) < 20, 0.0, 1.0) + 1e-4 * np.cos(np.arange(n))
    level[10] += 0.02
    count = np.full(n, 4000.0)
    spread = 0.1
    stats = RegionStatistics(
        count=count,
        total=(level * count)[:, None],
        total_sq=((level**2 + spread**2) * count)[:, None],
        pairs=np.stack([np.arange(n - 1), np.arange(1, n)], axis=1),
        length=np.full(n - 1, 100.0),
        contrast=np.zeros(n - 1),
    )
    affinity, scale = region_affinity(stats, beta=4.0, floor=CONTRAST_FLOOR)
    assert scale == CONTRAST_FLOOR
    within = affinity[[0], [1]][0]
    assert affinity[[9], [10]][0] > 1e-2 * within  # the impure region stays in its object
    assert affinity[[19], [20]][0] < 1e-6 * within  # the objects stay apart
    # region_graph applies it to volumes of large regions only
    volume = np.indices((24, 24, 24))[0] > 11
    volume = volume + 0.1 * np.random.default_rng(0).standard_normal(volume.shape)
    assert region_graph(volume, n_regions=12).scale == CONTRAST_FLOOR  # 1,152 voxels each
    assert region_graph(volume, n_regions=100).scale < CONTRAST_FLOOR  # 138 voxels each


def test_volume_superpixels_on_a_coarse_grid_respect_the_mask(rng):
    from specseg._regions import coarse_factor, superpixels

    shape = (34, 32, 33)  # odd sides: the coarse cells are padded, then cropped
    grid = np.indices(shape) - np.array(shape)[:, None, None, None] / 2
    mask = (grid**2).sum(axis=0) < 15**2
    features = (grid[0] > 0) + 0.1 * rng.standard_normal(shape)
    n_regions = 12
    assert coarse_factor(shape, mask.sum() / n_regions) == 2
    labels = superpixels(features[..., None], n_regions=n_regions, mask=mask)
    assert (labels[~mask] == -1).all() and (labels[mask] >= 0).all()
    assert set(np.unique(labels[mask])) == set(range(labels.max() + 1))
    assert 0.5 * n_regions <= labels.max() + 1 <= 2 * n_regions
    top = labels[mask & (grid[0] > 1)]
    bottom = labels[mask & (grid[0] < -2)]
    assert not set(top) & set(bottom)  # regions follow the step between the halves


def _halves(shape, seed, noise=0.05):
    """A dark and a bright half, split by a straight edge, with Gaussian noise."""
    image = np.zeros(shape)
    image[shape[0] // 2:] = 1.0
    truth = image.astype(int)
    return image + np.random.default_rng(seed).normal(0, noise, shape), truth


@pytest.mark.parametrize("shape, seed", [((128, 128), 0), ((128, 128), 1), ((100, 100), 1),
                                         ((200, 200), 1)])
def test_a_straight_edge_gives_two_segments_not_a_strip_along_it(shape, seed):
    # scikit-image's connectivity step joined the one-pixel band SLIC leaves
    # along the edge to the regions on the other side; those regions became a
    # strip of their own (three segments with "auto"; at 200² with k=2 the
    # strip and the rest, ARI 0.0003)
    image, truth = _halves(shape, seed)
    auto = segment(image, "auto", random_state=0)
    assert auto.max() + 1 == 2
    two = segment(image, 2, random_state=0)
    assert adjusted_rand_score(truth.ravel(), two.ravel()) > 0.99


def test_superpixels_along_a_straight_edge_do_not_straddle_it():
    from specseg._regions import default_n_regions, superpixels

    image, truth = _halves((128, 128), 0)
    labels = superpixels(image_features(image[..., None]), n_regions=default_n_regions(128**2))
    both = np.intersect1d(np.unique(labels[truth == 0]), np.unique(labels[truth == 1]))
    assert both.size == 0


def test_join_fragments_joins_small_pieces_to_the_nearest_mean(rng):
    from scipy import ndimage

    from specseg._regions import join_fragments

    clusters = rng.integers(0, 6, (30, 30))  # many small scattered pieces
    values = rng.random((30, 30, 2))
    labels = join_fragments(clusters, values)
    for r in np.unique(labels):
        assert ndimage.label(labels == r)[1] == 1  # every region is connected
    # every region either is a whole piece of at least the minimum size, or holds several
    min_size = 0.5 * clusters.size / 6
    sizes = np.bincount(labels.ravel())
    assert (sizes[sizes > 0] >= min_size).all()
    # a small piece between two large ones joins the one of nearer mean
    clusters = np.array([[0] * 5 + [1] + [2] * 5] * 3)
    values = np.array([[0.0] * 5 + [0.8] + [1.0] * 5] * 3)[..., None]
    labels = join_fragments(clusters, values, size_factor=0.5)
    assert labels[0, 5] == labels[0, 6] != labels[0, 4]


def test_join_fragments_keeps_the_mask_and_works_in_3d(rng):
    from scipy import ndimage

    from specseg._regions import join_fragments

    clusters = rng.integers(0, 4, (8, 9, 10))
    clusters[:, :, :3] = -1
    labels = join_fragments(clusters, rng.random((8, 9, 10, 1)))
    np.testing.assert_array_equal(labels < 0, clusters < 0)
    for r in np.unique(labels[labels >= 0]):
        assert ndimage.label(labels == r)[1] == 1


def test_region_graph_takes_the_spacing_in_units_of_the_smallest():
    # SLIC divides its smoothing by the spacing: (1, 0.2, 0.2) (micrometres)
    # smoothed 5 voxels wide in each slice where (5, 1, 1), the same voxels,
    # smoothed 1 (ARI to the truth 0.92 against 0.98 on balls(48))
    from specseg.datasets import balls

    volume, _ = balls(32, n_balls=2, noise=0.1, random_state=0)
    a = region_graph(volume, n_regions=200, spacing=(5, 1, 1))
    b = region_graph(volume, n_regions=200, spacing=(1, 0.2, 0.2))
    np.testing.assert_array_equal(a.node_map, b.node_map)

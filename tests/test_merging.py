"""Learned region merging on top of the contour hierarchy."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

import specseg
from specseg import _merging
from specseg._merging import learned_merging, pair_features, pair_sums, region_statistics


def _maps(L, textons=None):
    zero = np.zeros_like(L)
    textons = np.zeros(L.shape, dtype=int) if textons is None else textons
    return L, zero, zero.copy(), textons


def _no_heights(shape):
    return [np.zeros((shape[0] - 1, shape[1])), np.zeros((shape[0], shape[1] - 1))]


def test_pair_sums_count_the_shared_border_and_skip_the_mask():
    regions = np.array([[0, 0, 1, 1],
                        [0, 0, 1, 1],
                        [2, 2, -1, 1]])
    boundary = np.zeros(regions.shape)
    boundary[:, 1] = 0.5
    first, second, sums = pair_sums(regions, boundary, _no_heights(regions.shape))
    assert list(zip(first.tolist(), second.tolist(), strict=True)) == [(0, 1), (0, 2)]
    # 0|1 meet along two rows, 0/2 along two columns; -1 is nobody's neighbour
    np.testing.assert_array_equal(sums[:, 0], [2, 2])
    np.testing.assert_allclose(sums[:, 1], [1.0, 0.5])  # the larger of each pair


def test_region_statistics_and_features_see_colour_and_texture():
    regions = np.repeat([[0, 0, 1, 1, 2, 2]], 4, axis=0)
    L = np.where(regions == 2, 80.0, 30.0)
    textons = np.where(regions == 1, 3, 0)
    size, histograms, colour = region_statistics(regions, _maps(L, textons), 4)
    np.testing.assert_array_equal(size, [8, 8, 8])
    np.testing.assert_allclose(colour[:, 0] / size, [30, 30, 80])
    first, second, sums = pair_sums(regions, np.zeros(L.shape), _no_heights(L.shape))
    rows = pair_features(first, second, sums, size, histograms, colour)
    assert rows.shape == (2, len(_merging.FEATURE_NAMES))
    names = list(_merging.FEATURE_NAMES)
    texture, lightness = names.index("chi2_texton"), names.index("delta_L")
    # pair 0-1 differs in texture only, pair 1-2 in lightness only
    assert rows[0, texture] == pytest.approx(1.0) and rows[0, lightness] == 0
    assert rows[1, texture] == pytest.approx(1.0) and rows[1, lightness] == pytest.approx(50)


def test_merging_order_follows_the_predicted_probability_and_heights_rise():
    # five columns; the predictor says "boundary" in proportion to the lightness step
    regions = np.repeat([[0, 1, 2, 3, 4]], 3, axis=0)
    levels = np.array([10.0, 12.0, 50.0, 51.0, 95.0])
    L = levels[regions]
    lightness = list(_merging.FEATURE_NAMES).index("delta_L")

    def predict(rows):
        return np.clip(rows[:, lightness] / 100.0, 0.0, 1.0)

    merges, heights, first, second, pair_height = learned_merging(
        regions, _maps(L), np.zeros(L.shape), _no_heights(L.shape), n_textons=1,
        predict=predict)
    # 2+3 (step 1), then 0+1 (step 2), then {0,1}+{2,3} (step 39.5), then + 4
    assert merges.tolist() == [[2, 3], [0, 1], [5, 6], [4, 7]]
    np.testing.assert_allclose(heights, [0.01, 0.02, 0.395, 0.6425])
    assert np.all(np.diff(heights) >= 0)
    np.testing.assert_allclose(pair_height, [0.02, 0.395, 0.01, 0.6425])


def test_merged_hierarchy_nests_matches_its_ucm_and_keeps_the_mask():
    rng = np.random.default_rng(0)
    image = np.zeros((48, 64, 3))
    image[:, 32:] = [0.9, 0.2, 0.1]
    image[24:, :32] = [0.1, 0.3, 0.9]
    image += 0.03 * rng.standard_normal(image.shape)
    mask = np.ones(image.shape[:2], dtype=bool)
    mask[:, :4] = False
    h, info = specseg.hierarchy(image, channel_axis=-1, mask=mask, random_state=0,
                                return_info=True)
    assert {"local", "spectral", "ucm", "merging", "n_basins"} <= set(info)
    assert h.n_leaves <= info["n_basins"]
    assert np.all(np.diff(h.heights) >= 0) and 0 <= h.heights[0] and h.heights[-1] <= 1
    previous = None
    for t in np.linspace(0, 1, 11):
        labels = h.cut(threshold=t)
        assert (labels[:, :4] == -1).all() and (labels[:, 4:] >= 0).all()
        # ucm > t exactly where the right or lower neighbour (both inside the
        # mask) lies in another segment
        inside = labels >= 0
        edges = np.zeros(labels.shape, dtype=bool)
        edges[:, :-1] |= (labels[:, :-1] != labels[:, 1:]) & inside[:, :-1] & inside[:, 1:]
        edges[:-1] |= (labels[:-1] != labels[1:]) & inside[:-1] & inside[1:]
        np.testing.assert_array_equal(h.ucm > t, edges)
        if previous is not None:
            pairs = np.unique(np.stack([previous.ravel(), labels.ravel()]), axis=1)
            assert len(np.unique(pairs[0])) == pairs.shape[1]
        previous = labels
    truth = np.where(np.arange(64)[None, :] >= 32, 2, np.where(np.arange(48)[:, None] >= 24, 1, 0))
    assert adjusted_rand_score(truth[mask], h.cut(n_segments=3)[mask]) > 0.95


def test_merging_off_gives_the_contour_hierarchy():
    image = np.zeros((40, 60))
    image[:, 30:] = 1.0
    h, info = specseg.hierarchy(image, merging=False, return_info=True, random_state=0)
    assert "merging" not in info and h.n_leaves == info["n_basins"]
    merged = specseg.hierarchy(image, random_state=0)
    np.testing.assert_array_equal(merged.cut(n_segments=2), h.cut(n_segments=2))


@pytest.mark.parametrize("shape", [(8, 8), (5, 40), (40, 1)])
def test_images_too_small_for_the_cues_get_a_clear_error(shape):
    with pytest.raises(ValueError, match="at least 9 x 9 pixels"):
        specseg.hierarchy(np.zeros(shape))
    with pytest.raises(ValueError, match="mode='pixels'"):
        specseg.contours(np.zeros(shape))


def test_the_smallest_image_works():
    h = specseg.hierarchy(np.random.default_rng(0).random((9, 9)))
    assert h.cut(threshold=1.0).max() == 0


def test_segment_asks_for_no_more_segments_than_the_hierarchy_has():
    image = np.zeros((40, 60))
    image[:, 30:] = 1.0
    n_leaves = specseg.hierarchy(image, random_state=0).n_leaves
    with pytest.raises(ValueError, match=f"more than the {n_leaves} finest regions"):
        specseg.segment(image, n_leaves + 1, mode="contours", random_state=0)

"""Quality of the default segmentation on small scenes with ground truth."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from specseg import segment
from specseg._clustering import choose_n_segments
from specseg.datasets import balls, four_circles, hue_regions, shapes, textured_regions


@pytest.mark.parametrize("noise", [0.05, 0.1])
def test_grey_shapes_default_mode(noise):
    scores = []
    for seed in range(2):
        image, truth = shapes(128, n_shapes=4, noise=noise, random_state=seed)
        labels, info = segment(image, 5, return_info=True)
        assert info["mode"] == "regions"
        scores.append(adjusted_rand_score(truth.ravel(), labels.ravel()))
    assert np.mean(scores) >= 0.9, scores


def test_regions_beat_pixels_on_whole_frames():
    image, truth = shapes(96, n_shapes=3, noise=0.1, random_state=2)
    regions = segment(image, 4, mode="regions")
    pixels = segment(image, 4, mode="pixels")
    assert adjusted_rand_score(truth.ravel(), regions.ravel()) > adjusted_rand_score(
        truth.ravel(), pixels.ravel()
    ) + 0.3


def test_hue_scene_needs_colour_and_beats_skimage():
    from skimage import graph, segmentation

    image, truth = hue_regions(96, n_regions=3, noise=0.05, random_state=0)
    labels = segment(image, 4, channel_axis=-1)
    ours = adjusted_rand_score(truth.ravel(), labels.ravel())
    assert ours >= 0.95
    slic = segmentation.slic(image * 255, compactness=30, n_segments=400, start_label=1,
                             channel_axis=-1)
    rag = graph.rag_mean_color(image * 255, slic, mode="similarity")
    theirs = adjusted_rand_score(truth.ravel(), graph.cut_normalized(slic, rag).ravel())
    assert ours >= theirs - 1e-9
    # the grey-level version of the same scene carries almost no signal
    grey = segment(image.mean(axis=-1), 4)
    assert adjusted_rand_score(truth.ravel(), grey.ravel()) < ours


def test_balls_volume():
    volume, truth = balls(24, n_balls=2, noise=0.1, random_state=0)
    labels, info = segment(volume, 3, return_info=True)
    assert info["mode"] == "regions" and labels.shape == volume.shape
    assert adjusted_rand_score(truth.ravel(), labels.ravel()) >= 0.85


@pytest.mark.parametrize("seed", range(3))
def test_auto_k_on_clean_scenes(seed):
    n_shapes = [2, 3, 4][seed]
    image, truth = shapes(128, n_shapes=n_shapes, noise=0.02, random_state=seed)
    labels, info = segment(image, "auto", mode="regions", return_info=True)
    assert abs(info["n_segments"] - (n_shapes + 1)) <= 1
    assert len(np.unique(labels)) == info["n_segments"]
    assert len(info["eigenvalues"]) == info["n_segments"]


@pytest.mark.parametrize("seed", range(3))
def test_auto_on_clean_scenes_uses_the_contour_hierarchy(seed):
    n_shapes = [2, 3, 4][seed]
    image, truth = shapes(128, n_shapes=n_shapes, noise=0.02, random_state=seed)
    labels, info = segment(image, "auto", return_info=True)
    assert info["mode"] == "contours" and info["threshold"] is not None
    assert abs(info["n_segments"] - (n_shapes + 1)) <= 1
    assert len(np.unique(labels)) == info["n_segments"]


def test_auto_k_colour():
    image, truth = hue_regions(96, n_regions=2, noise=0.02, random_state=3)
    _, info = segment(image, "auto", channel_axis=-1, return_info=True)
    assert abs(info["n_segments"] - 3) <= 1


def test_choose_n_segments_relative_gap():
    assert choose_n_segments([0.0, 1e-14, 0.01, 0.02]) == 2
    assert choose_n_segments([0.0, 0.01]) == 1
    # a small absolute but large relative gap wins over a larger absolute one
    assert choose_n_segments([0.0, 1e-12, 1e-4, 0.05, 0.2]) == 2


def test_same_picture_any_dtype_same_segments():
    image, _ = shapes(96, n_shapes=3, noise=0.05, random_state=4)
    as_uint8 = np.round((image - image.min()) / np.ptp(image) * 255).astype(np.uint8)
    reference = segment(as_uint8, 4)
    for variant in (as_uint8.astype(np.float64), as_uint8 * 4.0, as_uint8 / 255.0):
        np.testing.assert_array_equal(segment(variant, 4), reference)


def test_mode_choice_and_errors():
    image, _ = shapes(64, n_shapes=2, random_state=0)
    _, info = segment(image, 3, return_info=True)
    assert info["mode"] == "regions"
    # a mask over grey levels that differ: segmented like the whole frame
    _, info = segment(image, 3, mask=image > -10, return_info=True)
    assert info["mode"] == "regions"
    # a mask over one grey level and noise (the seed example): the mask's
    # shape is what there is to segment, and the pixel graph follows it
    flat, mask, _ = four_circles(100, random_state=0)
    _, info = segment(flat, 4, mask=mask, return_info=True)
    assert info["mode"] == "pixels"
    # a small mask
    small = np.zeros(image.shape, bool)
    small[:20, :20] = True
    _, info = segment(image, 2, mask=small, return_info=True)
    assert info["mode"] == "pixels"
    _, info = segment(image[:20, :20], 2, return_info=True)
    assert info["mode"] == "pixels"
    with pytest.raises(ValueError, match="mode"):
        segment(image, 3, mode="superpixels")
    with pytest.raises(ValueError, match="n_segments"):
        segment(image, "many")


def test_textured_scene_runs():
    image, truth = textured_regions(64, n_regions=3, random_state=0)
    labels = segment(image, 3)
    assert labels.shape == truth.shape and len(np.unique(labels)) == 3


def test_masked_noisy_volume_is_segmented_by_regions():
    # levels that differ inside the mask, under noise: "auto" must not take
    # the pixel graph, whose cut follows the noise (ARI 0.07 on this volume)
    volume, truth = shapes(40, n_shapes=3, ndim=3, shading=0.3, random_state=0)
    mask = np.zeros(volume.shape, bool)
    mask[3:37, 3:37, 3:37] = True
    labels, info = segment(volume, 4, mask=mask, random_state=0, return_info=True)
    assert info["mode"] == "regions"
    assert (labels[~mask] == -1).all()
    assert adjusted_rand_score(truth[mask], labels[mask]) > 0.9


def test_a_mask_over_small_objects_in_strong_noise_is_not_taken_for_flat():
    # noise 0.4 hides three small balls in the variance inside the mask (1.5
    # times the noise's, under the old test's factor of 2): the pixel graph
    # was taken and cut the noise (ARI 0.004); smoothed, the balls stand out
    volume, truth = balls(64, n_balls=3, noise=0.4, shading=0.0, random_state=0)
    mask = np.zeros(volume.shape, bool)
    mask[4:60, 4:60, 4:60] = True
    k = np.unique(truth[mask]).size
    labels, info = segment(volume, k, mask=mask, random_state=0, return_info=True)
    assert info["mode"] == "regions"
    assert adjusted_rand_score(truth[mask], labels[mask]) > 0.85

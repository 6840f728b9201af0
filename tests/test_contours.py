"""Boundary cues, spectral globalization and the photograph hierarchy."""

import numpy as np
import pytest
from scipy import sparse

import specseg
from specseg import _features
from specseg._contours import boundary_map, oriented
from specseg._globalization import intervening_contour_graph, spectral_boundaries
from specseg.metrics import adjusted_rand_score


def _quadrants(size=64, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.zeros((size, size), dtype=int)
    truth[: size // 2, size // 2 :] = 1
    truth[size // 2 :, : size // 2] = 2
    truth[size // 2 :, size // 2 :] = 3
    levels = np.array([0.1, 0.4, 0.7, 0.95])
    image = levels[truth] + noise * rng.standard_normal(truth.shape)
    return image, truth


def test_soft_bins_sum_to_one_and_interpolate():
    channel = np.array([[0.0, 25.0, 50.0, 100.0, -5.0, 130.0]], dtype=np.float32)
    bins = _features.soft_bins(channel, 0.0, 100.0, 5)
    np.testing.assert_allclose(bins.sum(axis=0), 1.0, atol=1e-6)
    np.testing.assert_allclose(bins[:, 0, 2], [0, 0, 1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(bins[:, 0, 4], [1, 0, 0, 0, 0], atol=1e-6)  # clipped


def test_upsample_is_linear_between_block_centres():
    coarse = np.arange(6, dtype=np.float32).reshape(2, 3)
    fine = _features._upsample(coarse, 2, (4, 6))
    np.testing.assert_allclose(fine[0], [0, 0.25, 0.75, 1.25, 1.75, 2])
    np.testing.assert_allclose(fine[:, 0], [0, 0.75, 2.25, 3])


@pytest.mark.parametrize("axis", [0, 1])
def test_histogram_tensor_angle_points_across_a_step(axis):
    image = np.zeros((40, 40), dtype=np.float32)
    if axis == 1:
        image[:, 20:] = 1.0  # vertical boundary: the gradient runs along the columns
    else:
        image[20:, :] = 1.0
    bins = _features.soft_bins(image, 0.0, 1.0, 4)
    tensor = _features.histogram_tensor(bins, 2.0)
    strength = _features.tensor_strength(*tensor)
    angle = _features.tensor_angle(*tensor)
    peak = (20, 19) if axis == 1 else (19, 20)
    assert strength[peak] > 10 * strength[5, 5] + 1e-6
    expected = 0.0 if axis == 1 else np.pi / 2
    assert abs(angle[peak] - expected) < 1e-3


def test_histogram_tensor_does_not_depend_on_threads(monkeypatch):
    rng = np.random.default_rng(1)
    bins = _features.soft_bins(rng.random((30, 30)).astype(np.float32), 0.0, 1.0, 9)
    monkeypatch.setenv("SPECSEG_NUM_THREADS", "1")
    one = _features.histogram_tensor(bins, 1.5)
    monkeypatch.setenv("SPECSEG_NUM_THREADS", "2")
    two = _features.histogram_tensor(bins, 1.5)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_contours_peak_on_the_boundary_and_lie_in_unit_range():
    image, _ = _quadrants()
    strength = specseg.contours(image)
    assert strength.shape == image.shape and strength.dtype == np.float32
    assert 0.0 <= strength.min() and strength.max() <= 1.0
    on_boundary = strength[10:22, 31:33].mean()
    inside = strength[5:20, 5:20].mean()
    assert on_boundary > 3 * inside


def test_contours_colour_and_scale_invariance():
    image, _ = _quadrants(48)
    rgb = np.stack([image, 1 - image, 0.5 * image], axis=-1).clip(0, 1)
    a = specseg.contours(rgb, channel_axis=-1, globalization=False)
    b = specseg.contours(rgb * 255.0, channel_axis=-1, globalization=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert a.shape == image.shape


def test_contours_refuse_volumes_with_a_pointer_to_regions():
    with pytest.raises(ValueError, match="mode='regions'"):
        specseg.contours(np.zeros((8, 8, 8)))


def test_oriented_strength_peaks_at_the_boundary_direction():
    strength = np.ones((2, 2), dtype=np.float32)
    angle = np.zeros((2, 2))  # gradient along columns: a vertical boundary, bin 0
    stack = oriented(strength, angle, n_orient=8)
    assert stack.shape == (8, 2, 2)
    assert stack[0, 0, 0] == pytest.approx(1.0)
    assert stack[4, 0, 0] == pytest.approx(0.0, abs=1e-6)


def test_intervening_contour_graph_cuts_across_a_ridge():
    boundary = np.zeros((6, 6))
    boundary[:, 3] = 1.0
    W = intervening_contour_graph(boundary, radius=2.0, rho=0.1)
    assert sparse.issparse(W) and (abs(W - W.T) > 0).nnz == 0
    assert W.diagonal().sum() == 0
    index = np.arange(36).reshape(6, 6)
    assert W[index[2, 0], index[2, 2]] == pytest.approx(1.0)
    assert W[index[2, 2], index[2, 4]] == pytest.approx(np.exp(-10.0))
    # every neighbour within the radius is linked, each pair once
    assert W[index[2, 2], index[4, 2]] > 0 and W[index[2, 2], index[4, 4]] == 0


def test_spectral_boundaries_mark_the_separating_contour():
    boundary = np.zeros((40, 40), dtype=np.float32)
    boundary[:, 19:21] = 0.6
    spectral = spectral_boundaries(boundary, n_vectors=3, random_state=0)
    assert spectral[:, 17:23].mean() > 5 * spectral[:, :10].mean()


def test_hierarchy_recovers_the_quadrants_and_nests():
    image, truth = _quadrants()
    h, info = specseg.hierarchy(image, return_info=True, random_state=0)
    assert {"local", "spectral", "ucm", "total", "n_leaves"} <= set(info)
    labels = h.cut(n_segments=4)
    assert adjusted_rand_score(truth, labels) > 0.95
    counts = []
    previous = None
    for t in np.linspace(0.0, 1.0, 21):
        current = h.cut(threshold=t)
        counts.append(current.max() + 1)
        if previous is not None:  # every coarser segment is a union of finer ones
            pairs = np.unique(np.stack([previous.ravel(), current.ravel()]), axis=1)
            assert len(np.unique(pairs[0])) == pairs.shape[1]
        previous = current
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))
    assert "n_leaves" in repr(h)


def test_hierarchy_mask_and_determinism():
    image, _ = _quadrants(48)
    mask = np.ones(image.shape, dtype=bool)
    mask[:, :6] = False
    a = specseg.hierarchy(image, mask=mask, random_state=3)
    b = specseg.hierarchy(image, mask=mask, random_state=3)
    la = a.cut(threshold=0.3)
    np.testing.assert_array_equal(la, b.cut(threshold=0.3))
    assert (la[:, :6] == -1).all() and (la[:, 6:] >= 0).all()
    np.testing.assert_array_equal(a.ucm, b.ucm)


def test_boundary_map_timings_and_range():
    image, _ = _quadrants(32)
    timings = {}
    strength, angle = boundary_map(image[..., None], random_state=0, timings=timings)
    assert set(timings) == {"local", "spectral"}
    assert strength.shape == angle.shape == image.shape
    assert 0 <= strength.min() and strength.max() <= 1


def test_segment_contours_mode_by_number_and_by_threshold():
    image, truth = _quadrants()
    labels, info = specseg.segment(image, 4, mode="contours", return_info=True)
    assert info["mode"] == "contours" and info["n_segments"] == 4
    assert {"local", "spectral", "ucm", "cut"} <= set(info["timings"])
    assert adjusted_rand_score(truth, labels) > 0.95
    h = info["hierarchy"]
    coarse = specseg.segment(image, "auto", mode="contours", threshold=0.9)
    np.testing.assert_array_equal(coarse, h.cut(threshold=0.9))
    fine = specseg.segment(image, "auto", mode="contours", threshold=0.05)
    assert fine.max() >= coarse.max()


def test_segment_threshold_errors():
    image, _ = _quadrants(32)
    with pytest.raises(ValueError, match="mode='contours'"):
        specseg.segment(image, "auto", mode="regions", threshold=0.3)
    with pytest.raises(ValueError, match="both choose the level"):
        specseg.segment(image, 3, mode="contours", threshold=0.3)
    with pytest.raises(ValueError, match="must lie in"):
        specseg.segment(image, "auto", mode="contours", threshold=1.5)


def test_segment_contours_on_blocks_of_a_large_frame(monkeypatch):
    from specseg import _segment

    monkeypatch.setattr(_segment, "CONTOURS_MAX_PIXELS", 1200)
    image, truth = _quadrants(64, noise=0.02)
    mask = np.ones(image.shape, dtype=bool)
    mask[:, :5] = False
    labels, info = specseg.segment(image, 4, mode="contours", mask=mask, return_info=True)
    assert labels.shape == image.shape and info["timings"]["downsampling"] >= 0
    assert (labels[:, :5] == -1).all() and (labels[:, 5:] >= 0).all()
    assert adjusted_rand_score(truth[mask], labels[mask]) > 0.9


def test_cli_threshold_and_ucm(tmp_path):
    import imageio.v3 as iio
    from click.testing import CliRunner

    from specseg.cli import main

    image, _ = _quadrants(48)
    path = tmp_path / "quad.png"
    iio.imwrite(path, (np.clip(image, 0, 1) * 255).astype(np.uint8))
    out, ucm = tmp_path / "quad.labels.tif", tmp_path / "quad.ucm.png"
    result = CliRunner().invoke(main, ["segment", str(path), "--threshold", "0.5", "-o", str(out),
                                       "--ucm", str(ucm)])
    assert result.exit_code == 0, result.output
    assert "threshold 0.5" in result.output
    contour = iio.imread(ucm)
    assert contour.dtype == np.uint16 and contour.shape == image.shape and contour.max() > 0
    labels = iio.imread(out)
    assert labels.min() >= 1
    refused = CliRunner().invoke(main, ["segment", str(path), "--threshold", "0.5", "-k", "3",
                                        "-o", str(tmp_path / "x.tif")])
    assert refused.exit_code == 2 and "both choose the level" in refused.output
    refused = CliRunner().invoke(main, ["segment", str(path), "--ucm", str(tmp_path / "u.png"),
                                        "--mode", "regions"])
    assert refused.exit_code == 2 and "--mode contours" in refused.output


def test_the_fitted_model_ships_with_the_package():
    """The wheel carries data/*.npz (a source checkout has it anyway)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["specseg"]
    package = root / "src" / "specseg"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert package / "data" / "contours.npz" in shipped
    with np.load(package / "data" / "contours.npz") as model:
        assert model["w0"].shape[0] == model["mean"].shape[0]
        assert model["centres"].shape[1] == 6 * len(_features.BANK_SIGMAS)


def test_cli_ucm_of_a_frame_segmented_in_blocks_has_the_image_shape(tmp_path, monkeypatch):
    """Above CONTOURS_MAX_PIXELS the hierarchy is of the frame averaged over blocks;
    --ucm wrote that smaller map (e.g. 550 x 500 for a 1100 x 1000 photograph)."""
    import imageio.v3 as iio
    from click.testing import CliRunner

    from specseg import _segment
    from specseg.cli import main

    monkeypatch.setattr(_segment, "CONTOURS_MAX_PIXELS", 1200)  # 64 x 64 -> blocks of 2
    image, truth = _quadrants(64, noise=0.02)
    path = tmp_path / "quad.png"
    iio.imwrite(path, (np.clip(image, 0, 1) * 255).astype(np.uint8))
    ucm = tmp_path / "quad.ucm.png"
    result = CliRunner().invoke(main, ["segment", str(path), "-k", "4", "-o",
                                       str(tmp_path / "l.tif"), "--ucm", str(ucm)])
    assert result.exit_code == 0, result.output
    contour = iio.imread(ucm).astype(float) / 65535
    assert contour.shape == image.shape
    # the strong contours are the quadrants' borders
    assert contour[:, 31].min() > 0.5 and contour[31, :].min() > 0.5
    near = np.zeros(image.shape, dtype=bool)
    near[29:34, :] = near[:, 29:34] = True
    assert contour[~near].max() < 0.5


def test_contour_map_spreads_a_block_hierarchy_to_the_image():
    from specseg._segment import _block_factor, contour_map

    from .test_hierarchy import segment_boundaries

    image, _ = _quadrants(48)
    h = specseg.hierarchy(image[::3, ::3][:15, :16])  # as of a 45 x 47 frame in blocks of 3
    shape = (45, 47)
    assert _block_factor(shape, 15 * 16) == 3
    full = contour_map(h, shape)
    assert full.shape == shape
    for t in np.r_[0.0, h.thresholds, 1.0]:
        cut = np.repeat(np.repeat(h.cut(threshold=t), 3, axis=0), 3, axis=1)[:45, :47]
        assert np.array_equal(full > t, segment_boundaries(cut))
    assert contour_map(h, h.shape) is h.ucm
    with pytest.raises(ValueError, match="not of an image of shape"):
        contour_map(h, (100, 47))


@pytest.mark.parametrize("value", [0, 255])
def test_a_constant_photograph_has_no_boundary(value):
    """The spectral part, scaled to its peak, drew boundaries of strength 0.5 on a
    black image (the smooth eigenvectors of a uniform graph): cut at 0.1 it gave 5 segments."""
    image = np.full((60, 80, 3), value, dtype=np.uint8)
    strength = specseg.contours(image, channel_axis=-1)
    assert strength.max() - strength.min() < 1e-6 and strength.max() < 0.01
    h = specseg.hierarchy(image, channel_axis=-1)
    assert h.n_leaves == 1
    assert np.array_equal(h.cut(threshold=0.0), np.zeros((60, 80)))
    labels = specseg.segment(image, "auto", mode="contours", channel_axis=-1, threshold=0.05)
    assert labels.max() == 0


@pytest.mark.parametrize("n_channels", [3, 4])
def test_a_colour_photograph_without_channel_axis_is_told_to_pass_it(n_channels):
    """scikit-image's own functions default to channel_axis=-1; without it an RGB
    photograph was refused as a volume, with a pointer to mode='regions' only."""
    image = np.zeros((20, 30, n_channels))
    with pytest.raises(ValueError, match=rf"shape \(20, 30, {n_channels}\).*pass channel_axis=-1"):
        specseg.hierarchy(image)
    with pytest.raises(ValueError, match="pass channel_axis=-1"):
        specseg.segment(image, 3, mode="contours")
    with pytest.raises(ValueError, match="mode='regions'") as volume:
        specseg.contours(np.zeros((8, 8, 8)))
    assert "channel_axis" not in str(volume.value)


def test_rgba_is_averaged_to_grey_with_a_warning_that_names_the_fix():
    """An RGBA photograph (as PNG readers give it) lost its colour in silence: the
    cues average any channel count but 1 or 3, alpha included."""
    image, _ = _quadrants(48)
    rgb = np.stack([image, 1 - image, 0.5 * image], axis=-1).clip(0, 1)
    rgba = np.concatenate([rgb, np.ones((48, 48, 1))], axis=-1)
    with pytest.warns(UserWarning, match=r"4 channels.*image\[\.\.\., :3\]"):
        specseg.hierarchy(rgba, channel_axis=-1)
    with pytest.warns(UserWarning, match="2 channels, which are averaged"):
        specseg.contours(rgb[..., :2], channel_axis=-1, globalization=False)
    with pytest.warns(UserWarning, match="4 channels"):
        specseg.segment(rgba, "auto", mode="contours", channel_axis=-1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        specseg.hierarchy(rgb, channel_axis=-1)
        specseg.hierarchy(image)


def test_threshold_errors_say_what_chose_the_level_and_the_mode():
    """segment(photo, threshold=t) named an n_segments=8 the caller never passed, and
    mode='auto' choosing 'regions' read as if the caller had asked for it."""
    image, _ = _quadrants(48)
    with pytest.raises(ValueError, match=r"n_segments is 8 unless given.*threshold=0\.4\)"):
        specseg.segment(image, mode="contours", threshold=0.4)
    noisy = image + 0.3 * np.random.default_rng(0).standard_normal(image.shape)
    with pytest.raises(ValueError, match="mode='auto' chose 'regions'.*pass mode='contours'"):
        specseg.segment(noisy, "auto", threshold=0.4)
    with pytest.raises(ValueError, match=r"not 'regions'\.$"):
        specseg.segment(image, "auto", mode="regions", threshold=0.4)


def test_a_long_strip_is_not_averaged_below_the_cues_smallest_side(monkeypatch):
    """A frame above CONTOURS_MAX_PIXELS whose short side is under twice MIN_SIDE
    (12 x 100000 at the shipped cap) was averaged to a strip the cues refuse:
    segment(strip, 'auto') failed with 'got 6 x 50000' for a 12 x 100000 image."""
    from specseg import _segment

    monkeypatch.setattr(_segment, "CONTOURS_MAX_PIXELS", 5000)
    image = np.tile((np.arange(1500) > 700).astype(float), (12, 1))
    labels, info = specseg.segment(image, "auto", return_info=True)
    assert info["mode"] == "contours" and labels.shape == image.shape
    assert labels.max() == 1 and (labels[:, 690:] == 1).sum() > 0.95 * (12 * 810)
    assert _segment._contours_factor((12, 1500)) == 1
    assert _segment._contours_factor((40, 1500)) == 4  # the cap still holds where it can
    assert specseg.estimate_memory((12, 1500), 2, mode="contours") >= 950 * 12 * 1500


def test_auto_mode_does_not_pick_contours_for_a_strip_thinner_than_their_cues():
    """A clean 8 x 2000 strip: 'auto' chose the contour mode, which refuses frames
    under 9 pixels a side, so segment(strip, 'auto') raised."""
    image = np.tile((np.arange(2000) > 700).astype(float), (8, 1))
    labels, info = specseg.segment(image, "auto", return_info=True)
    assert info["mode"] == "pixels" and labels.max() == 1
    assert (labels[:, :690] == 0).all() and (labels[:, 710:] == 1).all()


def test_auto_mode_keeps_a_number_of_segments_on_a_constant_frame():
    """A constant frame has one contour region now (no phantom boundaries), so 'auto'
    leaves it to the graph modes, which split it into the number asked for."""
    image = np.full((64, 64), 0.3)
    labels, info = specseg.segment(image, 3, return_info=True, random_state=0)
    assert info["mode"] == "regions" and np.unique(labels).size == 3
    assert specseg.segment(image, "auto").max() == 0
    with pytest.raises(ValueError, match="more than the 1 finest regions"):
        specseg.segment(image, 3, mode="contours")


@pytest.mark.parametrize("width", [1, 2])
def test_a_thin_mask_of_a_frame_segmented_in_blocks_is_not_called_empty(monkeypatch, width):
    """No block of a frame averaged down was mostly inside a mask one pixel wide, so
    the contour mode said 'mask is empty (no nonzero pixel)' of a mask that is not."""
    from specseg import _segment

    monkeypatch.setattr(_segment, "CONTOURS_MAX_PIXELS", 1200)  # 64 x 64 -> blocks of 2
    image, _ = _quadrants(64, noise=0.02)
    mask = np.zeros(image.shape, dtype=bool)
    mask[:, 20:20 + width] = True
    labels = specseg.segment(image, "auto", mode="contours", mask=mask)
    assert (labels[~mask] == -1).all() and (labels[mask] >= 0).all()
    assert labels.max() <= 1  # the line crosses one boundary, at row 32


def test_a_colour_photograph_without_channel_axis_warns_before_it_becomes_a_volume():
    """segment(rgb) without channel_axis (scikit-image takes the last axis as colour
    by default) gave (M, N, 3) labels of a 3-slice volume in silence."""
    import warnings

    image = np.zeros((40, 50, 3))
    image[:, 25:] = (1.0, 0.5, 0.0)
    with pytest.warns(UserWarning, match=r"shape \(40, 50, 3\).*pass channel_axis=-1") as record:
        labels = specseg.segment(image, 2)
    assert labels.shape == (40, 50, 3)  # what was asked for, once warned
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        specseg.segment(image, 2, channel_axis=-1)
        specseg.segment(np.zeros((10, 10, 10)), 1)

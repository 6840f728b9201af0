import numpy as np
import pytest

from specseg._contrast import (
    AffineMoments,
    affine_competition,
    affine_merge,
    boundary_step,
    majority_regions,
    robust_partition,
)
from specseg._regions import RegionStatistics, pixel_noise, snap_boundaries


def _grid_regions(shape, side):
    """Square regions of ``side`` pixels, numbered in raster order, and their pairs."""
    rows, cols = shape[0] // side, shape[1] // side
    r, c = np.indices(shape)
    regions = (r // side) * cols + c // side
    pairs = [(a * cols + b, a * cols + b + 1) for a in range(rows) for b in range(cols - 1)]
    pairs += [(a * cols + b, (a + 1) * cols + b) for a in range(rows - 1) for b in range(cols)]
    return regions, np.array(sorted(pairs))


def _brute_residual(features, regions, r):
    """Residual sum of squares of a least-squares plane through region ``r``."""
    at = np.argwhere(regions == r)
    phi = np.column_stack([np.ones(len(at)), at / max(regions.shape)])
    values = features[regions == r]
    coef, *_ = np.linalg.lstsq(phi, values, rcond=None)
    return float(((values - phi @ coef) ** 2).sum())


@pytest.mark.parametrize("seed", range(3))
def test_affine_merge_cost_is_the_rise_of_the_residual(seed):
    rng = np.random.default_rng(seed)
    regions, pairs = _grid_regions((12, 12), 4)
    features = rng.random((12, 12, 2))
    moments = AffineMoments.from_labels(features, regions, 9)
    for a, b in pairs[:5]:
        union = np.where(regions == b, a, regions)
        expected = (_brute_residual(features, union, a) - _brute_residual(features, regions, a)
                    - _brute_residual(features, regions, b))
        g, c, e = moments.gram, moments.cross, moments.energy
        cost = (moments.residual(g[a] + g[b], c[a] + c[b], e[a] + e[b])
                - moments.residual(g[a], c[a], e[a]) - moments.residual(g[b], c[b], e[b]))
        assert cost == pytest.approx(expected, rel=1e-3)


def test_affine_merge_ignores_a_smooth_ramp():
    # a diagonal ramp of 0.9 across the frame and a square that steps off it
    # by 0.3: a constant model would cut the ramp, the planes keep it whole
    regions, pairs = _grid_regions((40, 40), 4)
    r, c = np.indices((40, 40))
    image = 0.9 * (r + c) / 78.0
    image[12:28, 12:28] += 0.3
    moments = AffineMoments.from_labels(image[..., None], regions, 100)
    labels = affine_merge(moments, pairs, 2)
    inside = np.zeros(100, bool)
    inside[[a * 10 + b for a in range(3, 7) for b in range(3, 7)]] = True
    assert len(set(labels[inside])) == 1 and len(set(labels[~inside])) == 1
    assert labels[inside][0] != labels[~inside][0]


def test_affine_merge_stops_at_parts_that_never_touch():
    features = np.zeros((2, 4, 1))
    regions = np.array([[0, 0, -1, 1], [0, 0, -1, 1]])
    moments = AffineMoments.from_labels(features, regions, 2)
    assert affine_merge(moments, np.zeros((0, 2), int), 1) is None
    assert affine_merge(moments, np.zeros((0, 2), int), 2).tolist() == [0, 1]


def test_affine_competition_returns_a_region_taken_too_early():
    regions, pairs = _grid_regions((8, 32), 4)  # 2 rows of 8 regions
    image = np.repeat(np.linspace(0.0, 0.7, 32), 1)[None, :].repeat(8, axis=0)
    image[:, 20:] += 0.5  # regions 5-7 and 13-15 step off the ramp
    moments = AffineMoments.from_labels(image[..., None], regions, 16)
    truth = np.tile((np.arange(8) >= 5).astype(int), 2)
    start = truth.copy()
    start[[3, 4]] = 1  # two ramp regions start in the other segment
    assert affine_competition(moments, pairs, start).tolist() == truth.tolist()
    assert affine_competition(moments, pairs, truth).tolist() == truth.tolist()


def test_boundary_step_is_the_weighted_lower_quartile():
    # two columns of regions; the rows step by 1, 1 and 0 over 1, 1 and 3 faces
    features = np.zeros((5, 4, 1))
    features[:2, 2:] = 1.0
    regions = np.array([[0, 0, 1, 1], [2, 2, 3, 3]] + [[4, 4, 5, 5]] * 3)
    stats = RegionStatistics.from_labels(features, regions)
    segments = np.array([0, 1, 0, 1, 0, 1])
    assert boundary_step(stats, segments)[1].tolist() == [0.0]


def test_majority_regions_drop_the_minority_of_a_straddling_region():
    rng = np.random.default_rng(1)
    features = 0.05 * rng.standard_normal((32, 64, 1))
    features[:, 30:] += 0.5  # the edge runs through the region of columns 24..31
    regions = np.repeat(np.arange(8), 8)[None, :].repeat(32, axis=0)
    stats = RegionStatistics.from_labels(features, regions)
    kept = majority_regions(features, regions, stats)
    dropped = kept == -1
    assert abs(int(dropped.sum()) - 2 * 32) <= 8
    assert (regions[dropped] == 3).all()
    assert (kept[:, :24] == regions[:, :24]).all() and (kept[:, 32:] == regions[:, 32:]).all()


def test_majority_regions_leave_pure_regions_alone():
    rng = np.random.default_rng(2)
    features = 0.05 * rng.standard_normal((32, 64, 1))
    regions = np.repeat(np.arange(8), 8)[None, :].repeat(32, axis=0)
    stats = RegionStatistics.from_labels(features, regions)
    assert majority_regions(features, regions, stats) is regions


def test_robust_partition_keeps_a_clean_cut():
    features = np.zeros((8, 8, 1))
    features[:, 4:] = 1.0
    regions = (np.arange(8)[:, None] // 2) * 4 + np.arange(8)[None, :] // 2
    stats = RegionStatistics.from_labels(features, regions)
    labels = np.tile([0, 0, 1, 1], 4)
    assert robust_partition(features, regions, stats, labels, 2, noise=0.0) is labels


def test_robust_partition_replaces_a_cut_along_the_shading():
    # a noisy ramp of 0.6 with a faint square (0.15 above it): a cut down the
    # middle of the ramp is unsupported and gives way to the square
    rng = np.random.default_rng(0)
    regions, pairs = _grid_regions((64, 64), 8)
    c = np.indices((64, 64))[1]
    features = (0.6 * c / 63 + 0.02 * rng.standard_normal((64, 64)))[..., None]
    features[24:40, 24:40] += 0.15
    stats = RegionStatistics.from_labels(features, regions)
    down_the_middle = (np.arange(64) % 8 >= 4).astype(int)
    labels = robust_partition(features, regions, stats, down_the_middle, 2,
                              noise=pixel_noise(features))
    square = np.zeros(64, bool)
    square[[r * 8 + q for r in (3, 4) for q in (3, 4)]] = True
    assert len(set(labels[square])) == 1 and len(set(labels[~square])) == 1
    assert labels[square][0] != labels[~square][0]


def test_pixel_noise_ignores_edges_and_shading():
    rng = np.random.default_rng(0)
    features = 0.05 * rng.standard_normal((128, 128, 1))
    features[:, 64:] += 1.0
    features += np.linspace(0.0, 0.5, 128)[:, None, None]
    assert pixel_noise(features) == pytest.approx(0.05, rel=0.1)


def test_snap_moves_pixels_only_across_boundaries_it_can_tell():
    rng = np.random.default_rng(0)
    image = np.zeros((64, 64))
    image[:, 32:] = 1.0  # strong edge: 10 noise levels
    image[:32, :] += 0.05  # weak edge: half a noise level
    features = (image + 0.1 * rng.standard_normal(image.shape))[..., None]
    labels = np.zeros((64, 64), int)
    labels[:, 28:] = 1  # 4 columns off the strong edge
    labels[:29, :28] = 2  # 3 rows off the weak one (its truth: rows 0..31)
    noise = pixel_noise(features)
    snapped = snap_boundaries(features, labels, width=6, noise=noise)
    assert (snapped[:, 34:] == 1).all() and (snapped[:, :30] != 1).mean() > 0.99
    assert (snapped[:, :28] == labels[:, :28]).all()  # the weak edge stands
    ungated = snap_boundaries(features, labels, width=6)
    assert (ungated[:, :28] != labels[:, :28]).sum() > 20  # a noisy vote moves pixels


def test_robust_partition_keeps_the_cut_where_planes_do_not_fit_the_regions():
    # the same frame with stripes inside every region: the affine model does
    # not hold, so the spectral partition stands
    rng = np.random.default_rng(0)
    regions, pairs = _grid_regions((64, 64), 8)
    r, c = np.indices((64, 64))
    features = (0.6 * c / 63 + 0.02 * rng.standard_normal((64, 64))
                + 0.1 * np.sin(2 * np.pi * r / 6))[..., None]
    features[24:40, 24:40] += 0.15
    stats = RegionStatistics.from_labels(features, regions)
    moments = AffineMoments.from_labels(features, regions, 64)
    noise = pixel_noise(features)
    assert not moments.fits(noise)
    down_the_middle = (np.arange(64) % 8 >= 4).astype(int)
    assert robust_partition(features, regions, stats, down_the_middle, 2,
                            noise=noise) is down_the_middle


def test_affine_moments_fit_a_plane_with_noise():
    rng = np.random.default_rng(0)
    regions, _ = _grid_regions((64, 64), 8)
    r, c = np.indices((64, 64))
    features = (0.01 * r + 0.05 * rng.standard_normal((64, 64)))[..., None]
    moments = AffineMoments.from_labels(features, regions, 64)
    assert moments.fits(pixel_noise(features))
    assert not moments.fits(0.5 * pixel_noise(features))


def test_robust_partition_replaces_a_supported_cut_that_the_models_fit_worse():
    # a gentle ramp, a bright square and a faint square (0.15 up); the cut
    # puts one background region with the faint square: every boundary steps
    # (most of that segment's boundary is the square's), but one plane cannot
    # fit the square and the background region, so the models' partition
    # wins
    rng = np.random.default_rng(0)
    regions, pairs = _grid_regions((64, 64), 8)
    c = np.indices((64, 64))[1]
    features = 0.08 * c / 63 + 0.02 * rng.standard_normal((64, 64))
    features[24:40, 24:40] += 0.15
    features[:16, 48:] += 1.0
    features = features[..., None]
    stats = RegionStatistics.from_labels(features, regions)
    grid = np.arange(64).reshape(8, 8)
    faint = np.isin(np.arange(64), grid[3:5, 3:5])
    bright = np.isin(np.arange(64), grid[:2, 6:])
    cut = np.where(bright, 0, np.where(faint | (np.arange(64) == grid[3, 5]), 1, 2))
    labels = robust_partition(features, regions, stats, cut, 3, noise=pixel_noise(features))
    assert labels is not cut
    assert len(set(labels[faint])) == 1 and len(set(labels[bright])) == 1
    assert len(set(labels[~faint & ~bright])) == 1 and len(set(labels.tolist())) == 3


def test_affine_moments_in_slabs_match_one_pass(monkeypatch):
    import specseg._contrast as contrast

    rng = np.random.default_rng(0)
    regions = rng.integers(-1, 5, (9, 7, 3))
    features = rng.random((9, 7, 3, 2))
    whole = AffineMoments.from_labels(features, regions, 5)
    monkeypatch.setattr(contrast, "SLAB_PIXELS", 40)  # two rows of 21 pixels a slab
    slabs = AffineMoments.from_labels(features, regions, 5)
    for name in ("gram", "cross", "energy"):
        assert np.allclose(getattr(whole, name), getattr(slabs, name))
    assert np.allclose(whole.gram, np.swapaxes(whole.gram, 1, 2))


def test_affine_moments_of_blocks_add_up_to_those_of_the_image():
    # the blockwise path sums the moments of each block, at its origin, on
    # the sample grid and the positions of the whole image
    rng = np.random.default_rng(0)
    features = rng.standard_normal((30, 27, 1))
    regions = (np.arange(30)[:, None] // 7 * 4 + np.arange(27)[None, :] // 8).astype(np.int64)
    n = int(regions.max()) + 1
    for max_pixels in (None, 200):  # every pixel, and every 3rd along each axis
        whole = AffineMoments.from_labels(features, regions, n, max_pixels=max_pixels)
        summed = [np.zeros_like(whole.gram), np.zeros_like(whole.cross),
                  np.zeros_like(whole.energy)]
        for rows in (slice(0, 11), slice(11, 30)):
            for cols in (slice(0, 13), slice(13, 27)):
                part = AffineMoments.from_labels(
                    features[rows, cols], regions[rows, cols], n, max_pixels=max_pixels,
                    origin=(rows.start, cols.start), shape=regions.shape)
                for total, sums in zip(summed, (part.gram, part.cross, part.energy),
                                       strict=True):
                    total += sums
        np.testing.assert_allclose(summed[0], whole.gram, rtol=1e-12)
        np.testing.assert_allclose(summed[1], whole.cross, rtol=1e-12)
        np.testing.assert_allclose(summed[2], whole.energy, rtol=1e-12)

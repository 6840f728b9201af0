import numpy as np
import pytest

from specseg._contrast import (
    boundary_contrast,
    boundary_step,
    merge_regions,
    robust_partition,
    supported_partition,
    trimmed_statistics,
)
from specseg._regions import RegionStatistics


def _brute_contrast(features, regions, segments):
    """Boundary contrast from a loop over pixel faces (the module notes' formula)."""
    mean = {r: features[regions == r].mean(axis=0) for r in np.unique(regions)}
    sums = {}
    for p in np.ndindex(regions.shape):
        for axis in range(regions.ndim):
            q = list(p)
            q[axis] += 1
            q = tuple(q)
            if q[axis] >= regions.shape[axis]:
                continue
            i, j = regions[p], regions[q]
            a, b = segments[i], segments[j]
            if a == b:
                continue
            if a > b:
                a, b, i, j = b, a, j, i
            faces, side_a, side_b = sums.get((a, b), (0, 0.0, 0.0))
            sums[(a, b)] = (faces + 1, side_a + mean[i], side_b + mean[j])
    return {k: np.linalg.norm(sa / f - sb / f) for k, (f, sa, sb) in sums.items()}


@pytest.mark.parametrize("seed", range(3))
def test_boundary_contrast_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    regions = rng.integers(0, 6, (7, 8))
    regions = np.unique(regions, return_inverse=True)[1].reshape(regions.shape)
    features = rng.random((7, 8, 2))
    segments = rng.integers(0, 3, regions.max() + 1)
    stats = RegionStatistics.from_labels(features, regions)
    pairs, contrast = boundary_contrast(stats, segments)
    expected = _brute_contrast(features, regions, segments)
    assert sorted(map(tuple, pairs.tolist())) == sorted(expected)
    for (a, b), value in zip(pairs.tolist(), contrast, strict=True):
        assert value == pytest.approx(expected[(a, b)])


def test_merge_ignores_a_smooth_ramp():
    # a ramp across the frame (steps of 0.1 between neighbouring columns of
    # regions) and one square that steps by 0.3: the square's boundary is kept
    ramp = np.repeat(np.linspace(0.0, 0.9, 10), 4)[None, :].repeat(40, axis=0)
    ramp[12:28, 12:28] += 0.3
    regions = (np.arange(40)[:, None] // 4) * 10 + np.arange(40)[None, :] // 4
    stats = RegionStatistics.from_labels(ramp[..., None], regions)
    labels = merge_regions(stats, 2)
    inside = np.zeros(100, bool)
    inside[[r * 10 + c for r in range(3, 7) for c in range(3, 7)]] = True
    assert len(set(labels[inside])) == 1 and len(set(labels[~inside])) == 1
    assert labels[inside][0] != labels[~inside][0]


def test_merge_stops_at_parts_that_never_touch():
    features = np.zeros((2, 4, 1))
    regions = np.array([[0, 0, -1, 1], [0, 0, -1, 1]])
    stats = RegionStatistics.from_labels(features, regions)
    assert merge_regions(stats, 1) is None
    assert merge_regions(stats, 2).tolist() == [0, 1]


def test_supported_partition_keeps_a_clean_cut():
    features = np.zeros((8, 8, 1))
    features[:, 4:] = 1.0
    regions = (np.arange(8)[:, None] // 2) * 4 + np.arange(8)[None, :] // 2
    stats = RegionStatistics.from_labels(features, regions)
    labels = np.tile([0, 0, 1, 1], 4)
    assert supported_partition(stats, labels, 2) is labels


def test_boundary_step_is_the_weighted_median_step():
    # two columns of regions; the rows step by 1, 1 and 0 over 1, 1 and 3 faces
    features = np.zeros((5, 4, 1))
    features[:2, 2:] = 1.0
    regions = np.array([[0, 0, 1, 1], [2, 2, 3, 3]] + [[4, 4, 5, 5]] * 3)
    stats = RegionStatistics.from_labels(features, regions)
    segments = np.array([0, 1, 0, 1, 0, 1])
    assert boundary_step(stats, segments)[1].tolist() == [0.0]
    assert boundary_contrast(stats, segments)[1].tolist() == [pytest.approx(0.4)]


def _ramp_scene():
    """A 10 x 10 grid of 4-pixel regions over a diagonal ramp (0.1 a region),
    a square 4 x 4 regions raised by 0.6 and one region raised by 10."""
    row, col = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
    square = (row >= 6) & (row < 10) & (col >= 6) & (col < 10)
    level = 0.1 * (row + col) + 0.6 * square
    level[2, 4] += 10.0
    features = np.kron(level, np.ones((4, 4)))[..., None]
    regions = np.kron(row * 10 + col, np.ones((4, 4), int))
    return RegionStatistics.from_labels(features, regions), row.ravel(), col.ravel(), square.ravel()


def test_supported_partition_sees_through_a_short_strong_stretch():
    # the spectral cut splits the background down the ramp between columns 4
    # and 5, with the bright region (column 4) on one side: the boundary's
    # mean contrast is carried by that one region, its median step is one
    # ramp step, so the merged partition (background, square, bright region)
    # replaces it
    stats, row, col, square = _ramp_scene()
    spectral = np.where(square, 2, np.where(col <= 4, 0, 1))
    pairs, contrast = boundary_contrast(stats, spectral)
    _, step = boundary_step(stats, spectral)
    weak = pairs.tolist().index([0, 1])
    assert step[weak] == pytest.approx(0.1)
    assert contrast[weak] > 5 * step[weak]
    labels = supported_partition(stats, spectral, 3)
    bright = (row == 2) & (col == 4)
    assert len(set(labels[bright])) == 1 and len(set(labels[square])) == 1
    assert len(set(labels[~bright & ~square])) == 1
    assert len(set(labels.tolist())) == 3


def test_trimmed_statistics_drop_the_minority_of_a_straddling_region():
    rng = np.random.default_rng(1)
    features = 0.05 * rng.standard_normal((32, 64, 1))
    features[:, 30:] += 0.5  # the edge runs through the region of columns 24..31
    regions = np.repeat(np.arange(8), 8)[None, :].repeat(32, axis=0)
    stats = RegionStatistics.from_labels(features, regions)
    trimmed = trimmed_statistics(features, regions, stats)
    assert stats.mean[3, 0] == pytest.approx(0.125, abs=0.02)  # pulled by 2 of 8 columns
    assert trimmed.mean[3, 0] == pytest.approx(0.0, abs=0.02)
    assert trimmed.count[3] == pytest.approx(6 * 32, abs=8)
    others = np.arange(8) != 3
    assert np.array_equal(trimmed.mean[others], stats.mean[others])
    assert np.array_equal(trimmed.pairs, stats.pairs)


def test_trimmed_statistics_leave_pure_regions_alone():
    rng = np.random.default_rng(2)
    features = 0.05 * rng.standard_normal((32, 64, 1))
    regions = np.repeat(np.arange(8), 8)[None, :].repeat(32, axis=0)
    stats = RegionStatistics.from_labels(features, regions)
    assert trimmed_statistics(features, regions, stats) is stats


def test_robust_partition_keeps_a_clean_cut():
    features = np.zeros((8, 8, 1))
    features[:, 4:] = 1.0
    regions = (np.arange(8)[:, None] // 2) * 4 + np.arange(8)[None, :] // 2
    stats = RegionStatistics.from_labels(features, regions)
    labels = np.tile([0, 0, 1, 1], 4)
    assert robust_partition(features, regions, stats, labels, 2) is labels

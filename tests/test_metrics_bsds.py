"""The BSDS region benchmark's metrics against brute-force references on tiny arrays."""

import itertools
from collections import Counter

import numpy as np
import pytest

from specseg.metrics import (
    mean_variation_of_information,
    probabilistic_rand_index,
    region_benchmark,
    segmentation_covering,
    variation_of_information,
)


def brute_covering(seg, truths):
    seg = np.asarray(seg)
    total = 0.0
    for truth in truths:
        truth = np.asarray(truth)
        for r in np.unique(truth):
            region = truth == r
            best = max(
                np.sum(region & (seg == s)) / np.sum(region | (seg == s)) for s in np.unique(seg)
            )
            total += region.sum() * best
    return total / (len(truths) * seg.size)


def brute_pri(seg, truths):
    s = np.ravel(seg)
    values = []
    for truth in truths:
        g = np.ravel(truth)
        pairs = list(itertools.combinations(range(s.size), 2))
        agree = sum((s[i] == s[j]) == (g[i] == g[j]) for i, j in pairs)
        values.append(agree / len(pairs))
    return float(np.mean(values))


def brute_vi_bits(a, b):
    a, b = np.ravel(a), np.ravel(b)
    n = a.size
    joint = Counter(zip(a.tolist(), b.tolist(), strict=True))
    pa, pb = Counter(a.tolist()), Counter(b.tolist())
    mi = sum(c / n * np.log2(c * n / (pa[x] * pb[y])) for (x, y), c in joint.items())
    ha = -sum(c / n * np.log2(c / n) for c in pa.values())
    hb = -sum(c / n * np.log2(c / n) for c in pb.values())
    return ha + hb - 2 * mi


def random_case(seed, shape=(5, 6)):
    rng = np.random.default_rng(seed)
    seg = rng.integers(-1, 4, shape)
    truths = [rng.integers(1, rng.integers(2, 6), shape) for _ in range(rng.integers(1, 5))]
    return seg, truths


@pytest.mark.parametrize("seed", range(6))
def test_region_benchmark_matches_brute_force(seed):
    seg, truths = random_case(seed)
    scores = region_benchmark(seg, truths)
    assert scores.covering == pytest.approx(brute_covering(seg, truths), rel=1e-12)
    assert scores.covering == pytest.approx(scores.covering_weighted / scores.covering_weight)
    assert scores.covering_weight == len(truths) * seg.size
    assert scores.pri == pytest.approx(brute_pri(seg, truths), rel=1e-12)
    expected_vi = np.mean([brute_vi_bits(seg, t) for t in truths])
    assert scores.vi == pytest.approx(expected_vi, abs=1e-12)
    assert segmentation_covering(seg, truths) == scores.covering
    assert probabilistic_rand_index(seg, truths) == scores.pri
    assert mean_variation_of_information(seg, truths) == scores.vi
    assert mean_variation_of_information(seg, truths, base=None) == pytest.approx(
        np.mean([variation_of_information(t, seg) for t in truths]), abs=1e-12
    )
    assert scores.region_sizes.sum() == len(truths) * seg.size
    assert scores.best_overlaps.shape == scores.region_sizes.shape


def test_perfect_and_trivial_segmentations():
    truth = np.repeat([[1, 1, 2, 2, 3, 3]], 4, axis=0)
    for seg in (truth, 7 - truth, truth.astype(float) / 3):
        scores = region_benchmark(seg, [truth, truth])
        assert (scores.covering, scores.pri, scores.vi) == (1.0, 1.0, 0.0)
    one = np.zeros_like(truth)
    assert segmentation_covering(one, truth) == pytest.approx(1 / 3)
    assert probabilistic_rand_index(one, truth) == pytest.approx(brute_pri(one, [truth]))
    assert mean_variation_of_information(one, truth) == pytest.approx(np.log2(3))


def test_label_permutation_invariance(rng):
    seg, truths = random_case(3, shape=(8, 9))
    scores = region_benchmark(seg, truths)
    permuted = region_benchmark(np.asarray([3, 9, 0, 2, 5])[seg + 1], [t * 10 for t in truths])
    assert permuted.covering == pytest.approx(scores.covering)
    assert permuted.pri == pytest.approx(scores.pri)
    assert permuted.vi == pytest.approx(scores.vi)


def test_many_labels_use_the_sparse_table():
    # 2,000 x 1,500 cells: too many for a dense table, counted by sorting instead
    rng = np.random.default_rng(1)
    seg = rng.integers(0, 2000, 2000)
    truth = rng.integers(10**12, 10**12 + 1500, 2000)  # a wide label range, coded by sorting
    expected = brute_vi_bits(seg, truth)
    assert mean_variation_of_information(seg, truth) == pytest.approx(expected, abs=1e-10)
    assert variation_of_information(seg, truth, base=2) == pytest.approx(expected, abs=1e-10)


def test_ground_truths_forms():
    seg, truths = random_case(0)
    expected = segmentation_covering(seg, truths)
    assert segmentation_covering(seg, np.stack(truths)) == expected
    assert segmentation_covering(seg, tuple(truths)) == expected
    assert segmentation_covering(seg, truths[0]) == segmentation_covering(seg, [truths[0]])
    assert segmentation_covering(seg, truths[0].tolist()) == segmentation_covering(seg, truths[0])


def test_region_benchmark_errors():
    seg = np.zeros((3, 4), int)
    with pytest.raises(ValueError, match="empty"):
        region_benchmark(seg, [])
    with pytest.raises(ValueError, match=r"ground truth 1 has shape \(3, 5\)"):
        region_benchmark(seg, [np.zeros((3, 4)), np.zeros((3, 5))])
    with pytest.raises(ValueError, match="must match"):
        region_benchmark(seg, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="empty"):
        region_benchmark(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="base"):
        mean_variation_of_information(seg, seg, base=1)
    with pytest.raises(ValueError, match="base"):
        variation_of_information(seg, seg, base=-2)


def test_single_pixel():
    scores = region_benchmark([[3]], [[[1]]])
    assert (scores.covering, scores.pri, scores.vi) == (1.0, 1.0, 0.0)

import itertools

import numpy as np
import pytest

from specseg.metrics import boundary_f1, variation_of_information


def brute_force_vi(a, b):
    a, b = np.ravel(a), np.ravel(b)
    n = a.size
    vi = 0.0
    for x in np.unique(a):
        for y in np.unique(b):
            r = np.sum((a == x) & (b == y)) / n
            if r > 0:
                p, q = np.mean(a == x), np.mean(b == y)
                vi -= r * (np.log(r / p) + np.log(r / q))
    return vi


def brute_force_boundary_f1(truth, pred, tolerance):
    def edges(labels):
        out = np.zeros(labels.shape, bool)
        for idx in itertools.product(*map(range, labels.shape)):
            for axis in range(labels.ndim):
                nxt = list(idx)
                nxt[axis] += 1
                if nxt[axis] < labels.shape[axis] and labels[idx] != labels[tuple(nxt)]:
                    out[idx] = True
        return out

    def matched(src, dst):
        pts = np.argwhere(dst)
        return sum(
            np.min(np.linalg.norm(pts - p, axis=1)) <= tolerance for p in np.argwhere(src)
        )

    te, pe = edges(truth), edges(pred)
    if not te.any() and not pe.any():
        return 1.0
    if not te.any() or not pe.any():
        return 0.0
    precision = matched(pe, te) / pe.sum()
    recall = matched(te, pe) / te.sum()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("seed", range(4))
def test_vi_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, (7, 9))
    b = rng.integers(-1, 3, (7, 9))
    assert variation_of_information(a, b) == pytest.approx(brute_force_vi(a, b), abs=1e-12)


def test_vi_properties(rng):
    a = rng.integers(0, 5, 200)
    b = rng.integers(0, 3, 200)
    c = rng.integers(0, 4, 200)
    assert variation_of_information(a, a) == 0.0
    assert variation_of_information(a, 7 - a) == 0.0
    assert variation_of_information(a, b) == pytest.approx(variation_of_information(b, a))
    # a metric: triangle inequality
    assert variation_of_information(a, c) <= (
        variation_of_information(a, b) + variation_of_information(b, c) + 1e-12
    )


@pytest.mark.parametrize("tolerance", [0, 1, 1.5, 3])
@pytest.mark.parametrize("seed", range(3))
def test_boundary_f1_matches_brute_force(tolerance, seed):
    rng = np.random.default_rng(seed)
    truth = np.zeros((12, 13), int)
    truth[rng.integers(2, 10):, :] = 1
    truth[:, rng.integers(3, 10):] += 2
    pred = np.roll(truth, rng.integers(-2, 3), axis=rng.integers(2))
    pred[rng.random(pred.shape) < 0.05] = 5
    expected = brute_force_boundary_f1(truth, pred, tolerance)
    assert boundary_f1(truth, pred, tolerance=tolerance) == pytest.approx(expected)


def test_boundary_f1_volume_and_edge_cases():
    truth = np.zeros((5, 6, 7), int)
    truth[:, :, 3:] = 1
    assert boundary_f1(truth, truth) == 1.0
    assert boundary_f1(truth, truth + 4) == 1.0
    assert boundary_f1(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0
    assert boundary_f1(truth, np.zeros_like(truth)) == 0.0
    shifted = np.zeros_like(truth)
    shifted[:, :, 4:] = 1
    assert boundary_f1(truth, shifted, tolerance=1) == 1.0
    assert boundary_f1(truth, shifted, tolerance=0) == 0.0


def test_metric_errors():
    with pytest.raises(ValueError, match="shapes"):
        variation_of_information(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="tolerance"):
        boundary_f1(np.zeros((3, 3)), np.zeros((3, 3)), tolerance=-1)

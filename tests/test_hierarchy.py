"""The hierarchy engine: leaves, greedy mean-boundary merging, cuts, UCM, OWT.

Synthetic boundary maps have known answers: regions separated by ridges of
set strengths over a smooth, weak interior. A slow, obviously correct greedy
merge (recomputing every arc mean at every step) is held against the fast one.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

from specseg import _hierarchy, canonical_labels
from specseg._hierarchy import Hierarchy, ultrametric_hierarchy

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


# ---------------------------------------------------------------- scenes


def smooth_noise(shape, seed, amplitude=0.05, sigma=3.0):
    """A weak, smooth interior: few regional minima, so leaves are large."""
    field = ndi.gaussian_filter(np.random.default_rng(seed).random(shape), sigma)
    field -= field.min()
    return amplitude * field / field.max()


def ridge_map(truth, levels, seed, *, ridge_noise=0.01):
    """Boundary strength of a labelled scene.

    Every pixel with a 4-neighbour in another region gets the level of that
    border (the larger if several), so the ridge is two pixels wide and each
    side keeps its own pixels; the rest is smooth weak noise.
    """
    boundary = smooth_noise(truth.shape, seed)
    ridge = np.zeros(truth.shape)
    for axis in range(truth.ndim):
        a = [slice(None)] * truth.ndim
        b = [slice(None)] * truth.ndim
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        a, b = tuple(a), tuple(b)
        level = np.vectorize(lambda p, q: levels.get((min(p, q), max(p, q)), 0.0))(
            truth[a], truth[b]
        )
        np.maximum(ridge[a], level, out=ridge[a])
        np.maximum(ridge[b], level, out=ridge[b])
    jitter = ridge_noise * np.random.default_rng(seed + 1).uniform(-1, 1, truth.shape)
    on_ridge = ridge > 0
    boundary[on_ridge] = np.clip(ridge[on_ridge] + jitter[on_ridge], 0, 1)
    return boundary, on_ridge


def merged_truth(truth, levels, threshold):
    """The truth with every border of level <= threshold removed."""
    parent = list(range(truth.max() + 1))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for (p, q), level in sorted(levels.items(), key=lambda item: item[1]):
        if level <= threshold:
            parent[find(q)] = find(p)
    return canonical_labels(np.vectorize(find)(truth))


def stripes(widths=(20, 20, 20, 20), height=30):
    truth = np.repeat(np.arange(len(widths)), widths)[np.newaxis].repeat(height, axis=0)
    return truth


STRIPE_LEVELS = {(0, 1): 0.6, (1, 2): 0.3, (2, 3): 0.9}


def rectangles():
    """Background 0, rectangle 1 holding rectangle 3, and rectangle 2."""
    truth = np.zeros((48, 64), int)
    truth[4:30, 4:34] = 1
    truth[10:22, 12:26] = 3
    truth[20:44, 40:60] = 2
    return truth


RECTANGLE_LEVELS = {(0, 1): 0.9, (0, 2): 0.7, (1, 3): 0.5}


def reference_greedy(boundary, leaves):
    """Greedy mean-boundary merging, recomputing every arc mean at every step.

    Returns the merge heights and the labels after each merge.
    """
    firsts, seconds = [], []
    flat_leaves = leaves.ravel()
    index = np.arange(leaves.size).reshape(leaves.shape)
    for axis in range(leaves.ndim):
        a = [slice(None)] * leaves.ndim
        b = [slice(None)] * leaves.ndim
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        firsts.append(index[tuple(a)].ravel())
        seconds.append(index[tuple(b)].ravel())
    p, q = np.concatenate(firsts), np.concatenate(seconds)
    inside = (flat_leaves[p] >= 0) & (flat_leaves[q] >= 0)
    p, q = p[inside], q[inside]
    strength = np.maximum(boundary.ravel()[p], boundary.ravel()[q])
    labels = flat_leaves.copy()
    heights, levels = [], []
    while True:
        lp, lq = labels[p], labels[q]
        cut = lp != lq
        if not cut.any():
            return np.array(heights), levels
        sums, counts = {}, {}
        for x, y, s in zip(np.minimum(lp, lq)[cut], np.maximum(lp, lq)[cut], strength[cut],
                           strict=True):
            sums[x, y] = sums.get((x, y), 0.0) + s
            counts[x, y] = counts.get((x, y), 0) + 1
        (x, y), mean = min(((key, sums[key] / counts[key]) for key in sums),
                           key=lambda item: item[1])
        heights.append(max(mean, heights[-1] if heights else 0.0))
        labels[labels == y] = x
        levels.append(canonical_labels(labels.reshape(leaves.shape)))


def segment_boundaries(labels):
    """Pixels whose next neighbour along some axis lies in another segment."""
    out = np.zeros(labels.shape, dtype=bool)
    for axis in range(labels.ndim):
        a = [slice(None)] * labels.ndim
        b = [slice(None)] * labels.ndim
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        a, b = tuple(a), tuple(b)
        out[a] |= (labels[a] != labels[b]) & (labels[a] >= 0) & (labels[b] >= 0)
    return out


def assert_nested(fine, coarse):
    """Every segment of ``fine`` lies inside one segment of ``coarse``."""
    assert np.array_equal(fine < 0, coarse < 0)
    inside = fine >= 0
    pairs = np.unique(np.stack([fine[inside], coarse[inside]]), axis=1)
    assert np.unique(pairs[0]).size == pairs.shape[1]


# ---------------------------------------------------------------- known answers


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.2, 0.45, 0.75, 0.95])
def test_stripes_cut_at_each_threshold_are_exactly_the_merged_stripes(seed, threshold):
    truth = stripes()
    boundary, _ = ridge_map(truth, STRIPE_LEVELS, seed)
    h = ultrametric_hierarchy(boundary)
    assert np.array_equal(h.cut(threshold=threshold),
                          merged_truth(truth, STRIPE_LEVELS, threshold))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("threshold", "expected"), [(0.6, 3), (0.8, 2), (0.95, 1)])
def test_rectangles_are_recovered_away_from_their_ridges(seed, threshold, expected):
    # Where two ridges meet, a corner pixel may join either side: compare the
    # rest. Without orientation, small leaves in the corners, walled in by
    # ridge pixels, merge as late as about half the ridge's strength (the
    # artefact the oriented watershed removes), so thresholds sit above that.
    # The ridges carry no jitter: a jittered convex corner pixel, surrounded by
    # ridge pixels, can be a regional minimum and a leaf of its own.
    truth = rectangles()
    boundary, on_ridge = ridge_map(truth, RECTANGLE_LEVELS, seed, ridge_noise=0.0)
    labels = ultrametric_hierarchy(boundary).cut(threshold=threshold)
    assert labels.max() + 1 == expected
    away = ~on_ridge
    assert np.array_equal(canonical_labels(labels[away]),
                          canonical_labels(merged_truth(truth, RECTANGLE_LEVELS, threshold)[away]))


def test_merge_heights_are_the_ridge_levels():
    truth = stripes()
    boundary, _ = ridge_map(truth, STRIPE_LEVELS, seed=0, ridge_noise=0.0)
    h = ultrametric_hierarchy(boundary)
    np.testing.assert_allclose(h.heights[-3:], [0.3, 0.6, 0.9])
    assert h.heights[-4] < 0.2


def test_cut_by_count_gives_that_many_segments_and_matches_thresholds():
    truth = rectangles()
    boundary, _ = ridge_map(truth, RECTANGLE_LEVELS, seed=0, ridge_noise=0.0)
    h = ultrametric_hierarchy(boundary)
    for k in (1, 2, 3, 4, 10):
        labels = h.cut(n_segments=k)
        assert labels.max() + 1 == k
    assert np.array_equal(h.cut(n_segments=3), h.cut(threshold=0.6))
    assert np.array_equal(h.cut(n_segments=h.n_leaves), h.leaves)


# batched rounds only, the heap only, and both (a round must merge a tenth of the arcs)
@pytest.mark.parametrize("round_fraction", [0.0, 0.1, 2.0])
@pytest.mark.parametrize("seed", range(4))
def test_fast_merging_equals_the_slow_reference(seed, round_fraction, monkeypatch):
    monkeypatch.setattr(_hierarchy, "_MIN_ROUND_FRACTION", round_fraction)
    rng = np.random.default_rng(seed)
    boundary = ndi.gaussian_filter(rng.random((18, 22)), 1.0)
    boundary = (boundary - boundary.min()) / np.ptp(boundary)
    mask = None
    if seed % 2:
        mask = np.ones(boundary.shape, bool)
        mask[:, 9:11] = False  # two parts that never merge
        mask[3:6, 2:5] = False
    h = ultrametric_hierarchy(boundary, mask=mask)
    assert h.n_leaves > 10
    heights, levels = reference_greedy(boundary, h.leaves)
    np.testing.assert_allclose(h.heights, heights, rtol=0, atol=1e-12)
    for step, expected in enumerate(levels):
        assert np.array_equal(h.cut(n_segments=h.n_leaves - step - 1), expected)


def test_three_d_volume():
    truth = np.zeros((6, 10, 12), int)
    truth[:, :, 6:] = 1
    boundary, _ = ridge_map(truth, {(0, 1): 0.7}, seed=0)
    h = ultrametric_hierarchy(boundary)
    assert np.array_equal(h.cut(threshold=0.5), truth)
    assert h.ucm.shape == truth.shape
    assert h.ucm.max() == pytest.approx(h.heights[-1])
    heights, _ = reference_greedy(boundary, h.leaves)
    np.testing.assert_allclose(h.heights, heights, atol=1e-12)


# ---------------------------------------------------------------- ucm


def test_ucm_marks_exactly_the_boundaries_of_every_cut():
    truth = rectangles()
    boundary, _ = ridge_map(truth, RECTANGLE_LEVELS, seed=3)
    h = ultrametric_hierarchy(boundary)
    for t in np.r_[0.0, h.thresholds[::7], 0.5, 1.0]:
        assert np.array_equal(h.ucm > t, segment_boundaries(h.cut(threshold=t)))
    assert h.ucm.min() == 0
    assert set(np.unique(h.ucm[h.ucm > 0])) <= set(h.heights)


@pytest.mark.parametrize("connectivity", [1, 2])
def test_ucm2_thresholded_gives_the_cuts(connectivity):
    truth = rectangles()
    boundary, _ = ridge_map(truth, RECTANGLE_LEVELS, seed=4)
    h = ultrametric_hierarchy(boundary)
    ucm2 = h.ucm2()
    assert ucm2.shape == (2 * 48 + 1, 2 * 64 + 1)
    assert not ucm2[1::2, 1::2].any()
    structure = ndi.generate_binary_structure(2, connectivity)
    for t in (0.0, 0.1, 0.35, 0.6, 0.8, 1.0):
        regions = ndi.label(ucm2 <= t, structure=structure)[0][1::2, 1::2]
        assert np.array_equal(canonical_labels(regions), h.cut(threshold=t))


# ---------------------------------------------------------------- mask


def test_mask_pixels_are_minus_one_and_regions_do_not_cross_it():
    truth = stripes()
    boundary, _ = ridge_map(truth, STRIPE_LEVELS, seed=0)
    mask = np.ones(truth.shape, bool)
    mask[:, 28:32] = False  # cuts stripe 1 in two
    mask[:5, :5] = False
    h = ultrametric_hierarchy(boundary, mask=mask)
    assert mask.flags.writeable  # the caller's mask is left as it was
    assert h.n_roots == 2
    for t in (0.0, 0.2, 0.5, 1.0):
        labels = h.cut(threshold=t)
        assert np.array_equal(labels < 0, ~mask)
    top = h.cut(threshold=1.0)
    assert np.unique(top[:, :28]).tolist() == [-1, 0]
    assert np.unique(top[:, 32:]).tolist() == [1]
    expected = merged_truth(truth, STRIPE_LEVELS, 0.45)
    expected[:, 20:28] += 10  # the cut-off left half of stripe 1 is a segment of its own
    expected[~mask] = -1
    assert np.array_equal(h.cut(threshold=0.45), canonical_labels(expected))
    with pytest.raises(ValueError, match="out of range for this hierarchy: ask for 2"):
        h.cut(n_segments=1)


def test_a_mask_part_without_its_own_minimum_still_gets_a_leaf():
    boundary = np.tile(np.linspace(0, 1, 12), (5, 1))  # the only minimum is column 0
    mask = np.ones(boundary.shape, bool)
    mask[:, 3] = False
    h = ultrametric_hierarchy(boundary, mask=mask)
    labels = h.cut(threshold=1.0)
    assert np.array_equal(labels[:, :3], np.zeros((5, 3)))
    assert np.array_equal(labels[:, 4:], np.ones((5, 8)))


# ---------------------------------------------------------------- oriented watershed


def oriented(truth, value, n_orient=8, *, swap=False):
    """Oriented strengths of a labelled scene's borders: vertical ones in bin 0,
    horizontal ones in bin n_orient / 2 (both bins on a pixel at a corner)."""
    vertical = np.zeros(truth.shape, bool)
    horizontal = np.zeros(truth.shape, bool)
    across_cols = truth[:, :-1] != truth[:, 1:]
    across_rows = truth[:-1] != truth[1:]
    vertical[:, :-1] |= across_cols
    vertical[:, 1:] |= across_cols
    horizontal[:-1] |= across_rows
    horizontal[1:] |= across_rows
    if swap:
        vertical, horizontal = horizontal, vertical
    energy = np.zeros((n_orient,) + truth.shape)
    energy[0][vertical] = value
    energy[n_orient // 2][horizontal] = value
    return energy, vertical | horizontal


@pytest.mark.parametrize("swap", [False, True])
def test_owt_reads_each_straight_piece_of_an_arc_at_its_orientation(swap):
    # an L-shaped arc (a corner block) and a closed one (a square inside)
    truth = np.zeros((30, 40), int)
    truth[:12, :15] = 1
    truth[18:26, 22:34] = 2
    energy, on_ridge = oriented(truth, 0.6, swap=swap)
    boundary = np.where(on_ridge, 0.6, 0.0)
    plain = ultrametric_hierarchy(boundary)
    owt = ultrametric_hierarchy(boundary, orientation=energy)
    assert plain.n_leaves == owt.n_leaves == 3
    np.testing.assert_allclose(plain.heights, [0.6, 0.6])
    if swap:  # every piece reads the bin across it, which is empty
        assert owt.heights.max() < 0.1
    else:
        # a corner pixel joins one side, so each corner is cut by a short
        # diagonal piece that reads the empty diagonal bin; the rest reads 0.6
        assert 0.45 < owt.heights.min() <= owt.heights.max() <= 0.6


@pytest.mark.parametrize(("bin_", "expected"), [(1, 0.5), (3, 0.0), (0, 0.0), (2, 0.0)])
def test_owt_orientation_convention_on_a_diagonal(bin_, expected):
    # the border of {row > col} runs along (d_row, d_col) = (1, 1): theta = pi / 4
    rows, cols = np.indices((24, 24))
    truth = (rows > cols).astype(int)
    _, on_ridge = oriented(truth, 1.0)
    energy = np.zeros((4,) + truth.shape)
    energy[bin_][on_ridge] = 0.5
    h = ultrametric_hierarchy(np.where(on_ridge, 0.5, 0.0), orientation=energy)
    assert h.n_leaves == 2
    assert h.heights[0] == pytest.approx(expected)


@pytest.mark.parametrize("shape", [(1, 6), (6, 1), (5, 5)])
def test_owt_on_tiny_maps(shape):
    boundary = np.zeros(shape)
    flat = ultrametric_hierarchy(boundary, orientation=np.zeros((4,) + shape))
    assert flat.n_leaves == 1
    boundary.flat[shape[0] * shape[1] // 2] = 0.5  # two or more leaves, short arcs
    energy = np.repeat(boundary[np.newaxis], 4, axis=0)
    h = ultrametric_hierarchy(boundary, orientation=energy)
    np.testing.assert_allclose(h.heights, ultrametric_hierarchy(boundary).heights)


def test_owt_keeps_arcs_that_cross_a_strong_ridge_weak():
    # without orientation, arcs between leaves of one stripe pick up the ridge
    # they run into; with it they read the bin across the ridge, which is weak
    truth = stripes()
    boundary, on_ridge = ridge_map(truth, STRIPE_LEVELS, seed=0)
    energy = np.repeat(np.where(on_ridge, 0.0, boundary)[np.newaxis], 8, axis=0)
    energy[0][on_ridge] = boundary[on_ridge]
    plain = ultrametric_hierarchy(boundary)
    owt = ultrametric_hierarchy(boundary, orientation=energy)
    inner = plain.n_leaves - 4  # the merges inside the four stripes
    assert owt.heights[inner - 1] <= 0.05 < plain.heights[inner - 1]
    np.testing.assert_allclose(owt.heights[inner:], plain.heights[inner:], atol=0.02)
    assert np.array_equal(owt.cut(threshold=0.1), truth)


# ---------------------------------------------------------------- properties


@st.composite
def boundary_maps(draw):
    shape = draw(st.tuples(st.integers(1, 9), st.integers(2, 11)))
    levels = draw(st.sampled_from([None, (0.0, 0.5, 1.0), (0.0, 0.25, 0.5, 0.75, 1.0)]))
    if levels is None:  # distinct values
        elements = st.floats(0, 1, allow_nan=False, width=32)
    else:  # plateaus and tied arcs
        elements = st.sampled_from(levels)
    boundary = draw(hnp.arrays(np.float64, shape, elements=elements))
    mask = None
    if draw(st.booleans()):
        mask = draw(hnp.arrays(bool, shape, elements=st.booleans()))
        if not mask.any():
            mask[0, 0] = True
    return boundary, mask


@SETTINGS
@given(boundary_maps(), st.lists(st.floats(0, 1), max_size=4), st.sampled_from([0.0, 2.0]))
def test_cuts_are_nested_canonical_connected_and_match_the_ucm(scene, extra, round_fraction):
    boundary, mask = scene
    with pytest.MonkeyPatch.context() as patch:  # batched rounds only, or the heap only
        patch.setattr(_hierarchy, "_MIN_ROUND_FRACTION", round_fraction)
        h = ultrametric_hierarchy(boundary, mask=mask)
    inside = np.ones(boundary.shape, bool) if mask is None else mask
    assert np.array_equal(h.leaves < 0, ~inside)
    assert h.n_roots == ndi.label(inside)[1]
    assert np.all(np.diff(h.heights) >= 0)
    thresholds = np.unique(np.r_[0.0, 1.0, h.thresholds, extra])
    previous = None
    for t in thresholds:
        labels = h.cut(threshold=t)
        assert np.array_equal(labels, canonical_labels(labels))
        assert np.array_equal(labels < 0, ~inside)
        assert np.array_equal(h.ucm > t, segment_boundaries(labels))
        for segment in range(labels.max() + 1):
            assert ndi.label(labels == segment)[1] == 1
        if previous is not None:
            assert labels.max() <= previous.max()
            assert_nested(previous, labels)
        previous = labels
    assert previous.max() + 1 == h.n_roots


@SETTINGS
@given(boundary_maps())
def test_every_count_from_roots_to_leaves_is_a_nested_level(scene):
    boundary, mask = scene
    h = ultrametric_hierarchy(boundary, mask=mask)
    previous = None
    for k in range(h.n_leaves, h.n_roots - 1, -1):
        labels = h.cut(n_segments=k)
        assert labels.max() + 1 == k
        if previous is not None:
            assert_nested(previous, labels)
        previous = labels


@SETTINGS
@given(boundary_maps(), st.integers(1, 8), st.integers(0, 2**16))
def test_owt_on_any_leaf_geometry(scene, n_orient, seed):
    # chains with loops, checkerboard corners, one-edgel arcs, masks
    boundary, mask = scene
    energy = np.random.default_rng(seed).random((n_orient,) + boundary.shape)
    h = ultrametric_hierarchy(boundary, orientation=energy, mask=mask)
    assert np.all(np.diff(h.heights) >= 0)
    assert np.all((h.heights >= 0) & (h.heights <= 1))
    for t in np.r_[0.0, h.thresholds, 1.0]:
        assert np.array_equal(h.ucm > t, segment_boundaries(h.cut(threshold=t)))
    # every bin the same map: the orientation of a piece no longer matters
    same = ultrametric_hierarchy(boundary, orientation=np.repeat(boundary[np.newaxis],
                                                                 n_orient, axis=0), mask=mask)
    plain = ultrametric_hierarchy(boundary, mask=mask)
    np.testing.assert_allclose(same.heights, plain.heights, atol=1e-12)


def test_the_same_map_gives_the_same_hierarchy():
    boundary = ndi.gaussian_filter(np.random.default_rng(7).random((40, 50)), 1.5)
    boundary = (boundary - boundary.min()) / np.ptp(boundary)
    first, second = ultrametric_hierarchy(boundary), ultrametric_hierarchy(boundary.copy())
    assert np.array_equal(first.merges, second.merges)
    assert np.array_equal(first.heights, second.heights)
    assert np.array_equal(first.ucm, second.ucm)


# ---------------------------------------------------------------- the object


def test_repr_and_attributes():
    truth = stripes()
    boundary, _ = ridge_map(truth, STRIPE_LEVELS, seed=0)
    h = ultrametric_hierarchy(boundary)
    text = repr(h)
    assert text.startswith(f"Hierarchy(shape=(30, 80), n_leaves={h.n_leaves}, n_roots=1, heights ")
    assert f"({h.thresholds.size} distinct)" in text
    assert isinstance(h, Hierarchy)
    assert h.merges.shape == (h.n_leaves - 1, 2)
    assert h.leaves.shape == h.ucm.shape == (30, 80)
    with pytest.raises(ValueError):
        h.heights[0] = 1.0  # read-only
    flat = ultrametric_hierarchy(np.zeros((3, 3)))
    assert repr(flat) == "Hierarchy(shape=(3, 3), n_leaves=1, n_roots=1, no merges)"
    assert np.array_equal(flat.cut(threshold=0.0), np.zeros((3, 3)))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("boundary", "error", "match"),
    [
        (np.full((4, 4), np.nan), ValueError, "NaN or inf"),
        (np.full((4, 4), 1.5), ValueError, r"in \[0, 1\].*rescale"),
        (-np.ones((4, 4)), ValueError, r"in \[0, 1\]"),
        (np.zeros((4, 4), complex), TypeError, "real array"),
        (np.zeros(5), ValueError, "2-D or 3-D"),
        (np.zeros((2, 3, 4, 5)), ValueError, "2-D or 3-D"),
        (np.zeros((0, 4)), ValueError, "empty"),
    ],
)
def test_bad_boundary_maps_are_refused(boundary, error, match):
    with pytest.raises(error, match=match):
        ultrametric_hierarchy(boundary)


def test_bad_orientation_and_mask_are_refused():
    boundary = np.zeros((6, 7))
    with pytest.raises(ValueError, match=r"shape \(n_orient, 6, 7\)"):
        ultrametric_hierarchy(boundary, orientation=np.zeros((8, 7, 6)))
    with pytest.raises(ValueError, match=r"n_orient"):
        ultrametric_hierarchy(np.zeros((3, 6, 7)), orientation=np.zeros((8, 3, 6, 7)))
    with pytest.raises(ValueError, match=r"orientation must lie in \[0, 1\]"):
        ultrametric_hierarchy(boundary, orientation=np.full((4, 6, 7), 2.0))
    with pytest.raises(ValueError, match="mask has shape"):
        ultrametric_hierarchy(boundary, mask=np.ones((7, 6), bool))
    with pytest.raises(ValueError, match="mask is empty"):
        ultrametric_hierarchy(boundary, mask=np.zeros((6, 7), bool))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TypeError, "exactly one of threshold= .* or n_segments="),
        ({"threshold": 0.5, "n_segments": 2}, TypeError, "exactly one"),
        ({"threshold": 1.5}, ValueError, r"threshold must lie in \[0, 1\]"),
        ({"threshold": float("nan")}, ValueError, r"threshold must lie in \[0, 1\]"),
        ({"threshold": "0.3"}, TypeError, "real number"),
        ({"n_segments": 0}, ValueError, "at least one"),
        ({"n_segments": 10**6}, ValueError, r"out of range .* 1 \(the separate parts"),
        ({"n_segments": 2.5}, TypeError, "whole number"),
    ],
)
def test_bad_cuts_are_refused(kwargs, error, match):
    truth = stripes()
    boundary, _ = ridge_map(truth, STRIPE_LEVELS, seed=0)
    h = ultrametric_hierarchy(boundary)
    with pytest.raises(error, match=match):
        h.cut(**kwargs)

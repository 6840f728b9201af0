"""benchmarks/bsds.py end to end on a tiny synthetic folder in the BSDS500 layout.

The data set itself is never needed: the folder is written here with the same
file formats (JPEG images, ``groundTruth`` as a 1 x n MATLAB cell of structs with
a ``Segmentation`` field, ``ucm2`` double-size contour maps).
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from specseg.metrics import region_benchmark

BSDS = Path(__file__).resolve().parents[1] / "benchmarks" / "bsds.py"

pytestmark = pytest.mark.skipif(not BSDS.exists(), reason="benchmarks/ is not in this checkout")


def load_bsds():
    spec = importlib.util.spec_from_file_location("bsds_benchmark", BSDS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def truth_ucm2(labels, strength=0.5):
    """A double-size UCM whose contours are exactly the label boundaries."""
    m, n = labels.shape
    ucm = np.zeros((2 * m + 1, 2 * n + 1))
    ucm[1:-1:2, 2:-1:2] = strength * (labels[:, :-1] != labels[:, 1:])
    ucm[2:-1:2, 1:-1:2] = strength * (labels[:-1, :] != labels[1:, :])
    ucm[2:-1:2, 2:-1:2] = np.maximum.reduce([
        ucm[1:-2:2, 2:-1:2], ucm[3::2, 2:-1:2], ucm[2:-1:2, 1:-2:2], ucm[2:-1:2, 3::2]
    ])
    # contours run on to the frame, as in gPb-owt-ucm's files (else regions join around it)
    ucm[0, 2:-1:2], ucm[-1, 2:-1:2] = ucm[1, 2:-1:2], ucm[-2, 2:-1:2]
    ucm[2:-1:2, 0], ucm[2:-1:2, -1] = ucm[2:-1:2, 1], ucm[2:-1:2, -2]
    return ucm


def scene(seed, shape=(24, 32)):
    """A colour image of three rectangles, and two human segmentations of it."""
    rng = np.random.default_rng(seed)
    labels = np.ones(shape, np.uint16)
    labels[: shape[0] // 2, shape[1] // 3 :] = 2
    labels[shape[0] // 2 :, 2 * shape[1] // 3 :] = 3
    colours = np.array([[0, 0, 0], [200, 40, 40], [40, 200, 40], [40, 40, 200]])
    image = np.clip(colours[labels] + rng.normal(0, 8, shape + (3,)), 0, 255).astype(np.uint8)
    coarse = labels.copy()
    coarse[coarse == 3] = 2
    return image, [labels, coarse]


@pytest.fixture(scope="module")
def bsds_root(tmp_path_factory):
    import imageio.v3 as iio
    from scipy.io import savemat

    root = tmp_path_factory.mktemp("bsds500")
    for folder in ("images/val", "groundTruth/val", "ucm2/val"):
        (root / folder).mkdir(parents=True)
    for i, image_id in enumerate(["1001", "2002", "3003"]):
        image, truths = scene(i, shape=(24, 32) if i != 1 else (32, 24))
        iio.imwrite(root / "images" / "val" / f"{image_id}.jpg", image)
        cell = np.empty((1, len(truths)), dtype=object)
        for j, truth in enumerate(truths):
            cell[0, j] = {"Segmentation": truth, "Boundaries": np.zeros(truth.shape, bool)}
        savemat(root / "groundTruth" / "val" / f"{image_id}.mat", {"groundTruth": cell})
        savemat(root / "ucm2" / "val" / f"{image_id}.mat", {"ucm2": truth_ucm2(truths[0])})
    return root


def test_reads_the_layout(bsds_root):
    bsds = load_bsds()
    assert bsds.image_ids(bsds_root, "val") == ["1001", "2002", "3003"]
    image = bsds.read_image(bsds_root, "val", "2002")
    truths = bsds.read_ground_truths(bsds_root, "val", "2002")
    assert image.shape == (32, 24, 3) and image.dtype == np.uint8
    expected = scene(1, shape=(32, 24))[1]
    assert len(truths) == 2
    for truth, want in zip(truths, expected, strict=True):
        np.testing.assert_array_equal(truth, want)
    ucm2 = bsds.read_ucm2(bsds_root, "val", "2002")
    assert ucm2.shape == (65, 49)
    # below the contour strength the cut is the truth, above it one region
    labels = bsds.ucm2_labels(ucm2, 0.3)
    assert region_benchmark(labels, truths[0]).covering == 1.0
    assert np.unique(bsds.ucm2_labels(ucm2, 0.7)).tolist() == [1]
    with pytest.raises(FileNotFoundError, match="images/test"):
        bsds.image_ids(bsds_root, "test")


def test_evaluate_against_brute_sums(bsds_root):
    bsds = load_bsds()
    ids = bsds.image_ids(bsds_root, "val")
    truths = {i: bsds.read_ground_truths(bsds_root, "val", i) for i in ids}

    def segment_fn(image):  # scale 0: one region; scale 1: the left/right halves
        halves = np.zeros(image.shape[:2], int)
        halves[:, image.shape[1] // 2 :] = 1
        return [np.zeros(image.shape[:2], int), halves]

    row, per_image = bsds.evaluate(segment_fn, bsds_root, "val")
    assert [image["id"] for image in per_image] == ids
    scores = {
        i: [region_benchmark(s, truths[i]) for s in segment_fn(truths[i][0][..., None])]
        for i in ids
    }
    weighted = np.array([[s.covering_weighted for s in scores[i]] for i in ids])
    weight = np.array([[s.covering_weight for s in scores[i]] for i in ids])
    pri = np.array([[s.pri for s in scores[i]] for i in ids])
    vi = np.array([[s.vi for s in scores[i]] for i in ids])
    assert row["covering_ods"] == pytest.approx(max(weighted.sum(0) / weight.sum(0)))
    best = np.argmax(weighted / weight, axis=1)
    assert row["covering_ois"] == pytest.approx(
        weighted[range(3), best].sum() / weight[range(3), best].sum()
    )
    assert row["pri_ods"] == pytest.approx(pri.mean(0).max())
    assert row["pri_ois"] == pytest.approx(pri.max(1).mean())
    assert row["vi_ods"] == pytest.approx(vi.mean(0).min())
    assert row["vi_ois"] == pytest.approx(vi.min(1).mean())
    assert (row["n_images"], row["n_scales"]) == (3, 2)
    assert per_image[0]["n_segments"].tolist() == [1, 2]
    limited, _ = bsds.evaluate(segment_fn, bsds_root, "val", limit=2)
    assert limited["n_images"] == 2
    with pytest.raises(ValueError, match="different numbers of scales"):
        bsds.evaluate(lambda image: [np.zeros(image.shape[:2])] * (image.shape[0] // 8),
                      bsds_root, "val")


class _Hierarchy:
    """A two-level hierarchy of the truth: its three regions, or 2 and 3 merged above 0.5."""

    def __init__(self, truth):
        self.truth = truth

    def cut(self, *, threshold):
        return self.truth if threshold < 0.5 else np.minimum(self.truth, 2)


def test_evaluate_ucm_nested_and_not(bsds_root):
    bsds = load_bsds()
    truths = {i: bsds.read_ground_truths(bsds_root, "val", i)
              for i in bsds.image_ids(bsds_root, "val")}
    row, per_image = bsds.evaluate_ucm(lambda image: _Hierarchy(_truth_of(image, truths)),
                                       bsds_root, "val", thresholds=[0.2, 0.4, 0.6, 0.8])
    # each truth is one of the hierarchy's levels: the image's best scale matches one of them
    for image in per_image:
        assert image["n_segments"].tolist() == [3, 3, 2, 2]

    # a callable whose later cuts are not nested in its first is scored from the pixels
    def flip(image):
        truth = _truth_of(image, truths)
        return lambda t: np.minimum(truth, 2) if t < 0.5 else truth

    flipped, per_flipped = bsds.evaluate_ucm(flip, bsds_root, "val",
                                             thresholds=[0.2, 0.4, 0.6, 0.8])
    assert per_flipped[0]["n_segments"].tolist() == [2, 2, 3, 3]
    for key in ("covering_ods", "covering_ois", "pri_ods", "pri_ois", "vi_ods", "vi_ois"):
        assert flipped[key] == pytest.approx(row[key], rel=1e-12)


def _truth_of(image, truths):
    for values in truths.values():
        if values[0].shape == image.shape[:2]:
            return values[0]
    raise AssertionError("no truth of this shape")


def test_script_end_to_end(bsds_root, tmp_path):
    out = tmp_path / "rows.json"
    result = subprocess.run(
        [sys.executable, str(BSDS), "--root", str(bsds_root), "--methods", "gpb-owt-ucm",
         "felzenszwalb", "specseg-auto", "--jobs", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    assert "| method | covering ODS | OIS | PRI ODS | OIS | VI ODS | OIS | s/image |" in (
        result.stdout
    )
    rows = {row["method"]: row for row in json.loads(out.read_text())["rows"]}
    gpb = rows["gpb-owt-ucm"]
    # the ucm2 files hold the first truth exactly: OIS covering lies between the
    # coarse truth's agreement and 1, PRI and VI of the perfect cut are those of
    # a method that matches one of two truths
    assert gpb["n_scales"] == 99 and gpb["n_images"] == 3
    assert 0.8 < gpb["covering_ods"] <= gpb["covering_ois"] < 1.0
    assert 0.8 < gpb["pri_ods"] <= gpb["pri_ois"] <= 1.0
    assert 0.0 < gpb["vi_ois"] <= gpb["vi_ods"] < 1.0
    for name in ("felzenszwalb", "specseg-auto"):
        row = rows[name]
        assert 0 < row["covering_ods"] <= row["covering_ois"] <= 1
        assert 0 < row["pri_ods"] <= row["pri_ois"] <= 1
        assert 0 <= row["vi_ois"] <= row["vi_ods"]
        assert row["seconds_per_image"] > 0
    assert rows["felzenszwalb"]["n_scales"] == 11 and rows["specseg-auto"]["n_scales"] == 1


def test_script_perfect_method_scores_one(bsds_root, tmp_path):
    # ground truths that agree with each other and a ucm2 that holds them: 1 / 1 / 0
    import shutil

    from scipy.io import savemat

    bsds = load_bsds()
    root = tmp_path / "perfect"
    shutil.copytree(bsds_root, root)
    for image_id in bsds.image_ids(root, "val"):
        truth = bsds.read_ground_truths(root, "val", image_id)[0]
        cell = np.empty((1, 3), dtype=object)
        for j in range(3):
            cell[0, j] = {"Segmentation": truth}
        savemat(root / "groundTruth" / "val" / f"{image_id}.mat", {"groundTruth": cell})
    out = tmp_path / "rows.json"
    subprocess.run(
        [sys.executable, str(BSDS), "--root", str(root), "--methods", "gpb-owt-ucm",
         "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    row = json.loads(out.read_text())["rows"][0]
    assert (row["covering_ods"], row["covering_ois"]) == (1.0, 1.0)
    assert (row["pri_ods"], row["pri_ois"]) == (1.0, 1.0)
    assert (row["vi_ods"], row["vi_ois"]) == (0.0, 0.0)
    assert row["covering_ods_scale"] < 49  # thresholds below the contours' 0.5


def test_script_usage_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BSDS), "--root", str(tmp_path), "--jobs", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "images/val" in result.stderr

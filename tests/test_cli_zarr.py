"""``specseg segment IN.zarr -o OUT.zarr``: the command's distributed path."""

import numpy as np
import pytest
from click.testing import CliRunner

zarr = pytest.importorskip("zarr")
pytest.importorskip("dask.array")

from specseg import distributed  # noqa: E402
from specseg.cli import main  # noqa: E402
from specseg.datasets import balls  # noqa: E402


@pytest.fixture(scope="module")
def volume():
    return balls(48, n_balls=2, noise=0.05, random_state=0)[0].astype(np.float32)


def _store(path, image, *, ome=False):
    if ome:
        group = zarr.open_group(path, mode="w")
        group.attrs["multiscales"] = [{"version": "0.4", "datasets": [{"path": "0"}]}]
        array = group.create_array("0", shape=image.shape, chunks=(24,) * 3, dtype="float32")
    else:
        array = zarr.open_array(path, mode="w", shape=image.shape, chunks=(24,) * 3,
                                dtype="float32")
    array[...] = image
    return path


@pytest.mark.parametrize("ome", [False, True])
def test_zarr_in_zarr_out_with_labels_one_to_k(tmp_path, volume, ome):
    source = _store(tmp_path / "in.zarr", volume, ome=ome)
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", "-o",
                                       str(tmp_path / "out.zarr")])
    assert result.exit_code == 0, result.output
    assert "3 segments" in result.output and "8 blocks" in result.output
    node = zarr.open(tmp_path / "out.zarr", mode="r")
    if ome:
        assert "image-label" in node.attrs and node.attrs["multiscales"][0]["datasets"]
        node = node["0"]
    expected = distributed.segment(volume, 3, chunks=24, random_state=0).compute() + 1
    np.testing.assert_array_equal(node[...], expected)
    assert node.dtype == np.uint16
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_nan_voxels_of_a_store_are_left_out_with_a_warning(tmp_path, volume):
    image = volume.copy()
    image[:6] = np.nan  # no data
    source = _store(tmp_path / "in.zarr", image)
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", "-o",
                                       str(tmp_path / "out.zarr")])
    assert result.exit_code == 0, result.output
    assert f"{6 * 48 * 48} of {48**3} voxels are NaN or inf" in result.stderr
    # the summary counts the voxels segmented, as for image files (it counted all)
    assert f"3 segments of {42 * 48 * 48} voxels" in result.stdout
    labels = zarr.open_array(tmp_path / "out.zarr", mode="r")[...]
    assert (labels[:6] == 0).all() and (labels[6:] > 0).all()
    expected = distributed.segment(image, 3, chunks=24, mask=np.isfinite(image),
                                   random_state=0).compute() + 1
    np.testing.assert_array_equal(labels, expected)
    # nothing but no data: one line
    source = _store(tmp_path / "empty.zarr", np.full_like(volume, np.nan))
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", "-o",
                                       str(tmp_path / "out2.zarr")])
    assert result.exit_code == 1 and "every voxel is NaN or inf" in result.output
    assert "Traceback" not in result.output


def test_existing_output_is_kept_without_overwrite(tmp_path, volume):
    source = _store(tmp_path / "in.zarr", volume)
    out = tmp_path / "out.zarr"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", "-o", str(out)])
    assert result.exit_code == 1 and "already exists" in result.output
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["-o", "labels.tif"], "give -o OUT.zarr"),
        (["-o", "out.zarr", "--scheduler", "tcp://x:1", "--workers", "2"], "not both"),
    ],
)
def test_usage_errors_for_a_store(tmp_path, volume, extra, match):
    source = _store(tmp_path / "in.zarr", volume)
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", *extra])
    assert result.exit_code == 2 and match in result.output


def test_cluster_options_need_a_store(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((8, 8)))
    result = CliRunner().invoke(main, ["segment", str(tmp_path / "a.npy"), "-o",
                                       str(tmp_path / "a.tif"), "--workers", "2"])
    assert result.exit_code == 2 and ".zarr inputs" in result.output


def test_a_npy_over_the_pixel_limit_points_to_zarr(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((20, 20, 20), np.float32))
    result = CliRunner().invoke(main, ["segment", str(tmp_path / "big.npy"), "-o",
                                       str(tmp_path / "big.tif"), "--max-pixels", "1000"])
    assert result.exit_code == 1 and "convert it to zarr" in result.output


@pytest.mark.parametrize(
    "extra",
    [["--report", "r.json"], ["--overlay", "o.png"], ["--figure", "f.png"],
     ["--mode", "pixels"], ["--channel-axis", "0"], ["--threshold", "0.5"]],
)
def test_options_of_the_in_memory_path_are_refused_for_a_store(tmp_path, volume, extra):
    # they were ignored without a word (no report written, no overlay, another mode)
    source = _store(tmp_path / "in.zarr", volume)
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", "-o",
                                       str(tmp_path / "out.zarr"), *extra])
    assert result.exit_code == 2 and extra[0] in result.output, result.output
    assert "not for .zarr inputs" in result.output
    assert not (tmp_path / "out.zarr").exists()


def test_beta_solver_and_assign_reach_a_store(tmp_path, volume, monkeypatch):
    # they were accepted and ignored
    from specseg import _blockwise

    seen = {}
    real = _blockwise.segment

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(_blockwise, "segment", spy)
    source = _store(tmp_path / "in.zarr", volume)
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", "-o",
                                       str(tmp_path / "out.zarr"), "--beta", "2",
                                       "--solver", "amg", "--assign", "kmeans"])
    assert result.exit_code == 0, result.output
    assert (seen["beta"], seen["solver"], seen["assign"]) == (2.0, "amg", "kmeans")


def test_spacing_reaches_a_store(tmp_path, volume):
    source = _store(tmp_path / "in.zarr", volume)
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", "-o",
                                       str(tmp_path / "out.zarr"), "--spacing", "5,1,1"])
    assert result.exit_code == 0, result.output
    expected = distributed.segment(volume, 3, chunks=24, spacing=(5, 1, 1),
                                   random_state=0).compute() + 1
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "out.zarr", mode="r")[...],
                                  expected)


def test_ome_labels_keep_the_images_axes_and_scale(tmp_path, volume):
    # the labels were written with scale 1 on axes z, y, x whatever the image's:
    # a viewer drew them 5 times too thin over a (5, 1, 1) volume
    source = tmp_path / "in.zarr"
    group = zarr.open_group(source, mode="w")
    axes = [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
    transforms = [{"type": "scale", "scale": [5.0, 0.5, 0.5]}]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [
        {"path": "0", "coordinateTransformations": transforms}]}]
    array = group.create_array("0", shape=volume.shape, chunks=(24,) * 3, dtype="float32")
    array[...] = volume
    result = CliRunner().invoke(main, ["segment", str(source), "-k", "3", "-o",
                                       str(tmp_path / "out.zarr")])
    assert result.exit_code == 0, result.output
    written = zarr.open(tmp_path / "out.zarr", mode="r").attrs["multiscales"][0]
    assert written["axes"] == axes
    assert written["datasets"][0]["coordinateTransformations"] == transforms

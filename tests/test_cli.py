"""The specseg command: real files in, label images, overlays and reports out."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from PIL import Image

from specseg.cli import main

from .conftest import read_label_file

SRC = str(Path(__file__).resolve().parents[1] / "src")


def blocks(shape=(16, 20), dtype=np.uint8, top=200, seed=0):
    """Left half dark, right half bright, with a little seeded noise."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape)
    image[..., shape[-1] // 2:] = top
    image += rng.uniform(0, top / 20, size=shape)
    return image.astype(dtype)


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def expected_halves(shape=(16, 20)):
    """The two-segment answer on disk: 1 on the left, 2 on the right."""
    truth = np.ones(shape, dtype=int)
    truth[..., shape[-1] // 2:] = 2
    return truth


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "img.png"
    Image.fromarray(blocks()).save(path)
    return path


# --- one input, every output format ------------------------------------------------------

@pytest.mark.parametrize("name, dtype", [
    ("out.tif", np.uint16), ("out.tiff", np.uint16), ("out.png", np.uint8), ("out.npy", np.uint16),
])
def test_single_input_formats(tmp_path, png, name, dtype):
    result = run("segment", png, "-k", 2, "-o", tmp_path / name, "--quiet")
    assert result.exit_code == 0, result.output
    got = read_label_file(tmp_path / name)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected_halves())
    assert result.stdout == "" and result.stderr == ""


def test_mask_gives_zero_outside(tmp_path, png):
    mask = np.ones((16, 20), np.uint8) * 255
    mask[:4] = 0
    Image.fromarray(mask).save(tmp_path / "mask.png")
    _assert_top_rows_masked_out(tmp_path, png)


def test_float_mask_file_with_nan_leaves_them_out(tmp_path, png):
    # a float mask whose no-data pixels are NaN: NaN is not "nonzero", so outside
    mask = np.ones((16, 20), np.float32)
    mask[:4] = np.nan
    tifffile.imwrite(tmp_path / "mask.tif", mask)
    _assert_top_rows_masked_out(tmp_path, png, "mask.tif")


def _assert_top_rows_masked_out(tmp_path, png, name="mask.png"):
    """Segment ``png`` with the mask file ``tmp_path / name``, whose top 4 rows are outside."""
    result = run("segment", png, "-k", 2, "--mask", tmp_path / name, "-o",
                 tmp_path / "l.tif")
    assert result.exit_code == 0, result.output
    got = tifffile.imread(tmp_path / "l.tif")
    assert (got[:4] == 0).all()
    np.testing.assert_array_equal(got[4:], expected_halves()[4:])


@pytest.mark.parametrize("colour, alpha_outside", [
    (0, 0),      # drawn in black on a transparent background: the alpha is the mask
    (255, 0),    # white everywhere, transparent outside
    (255, 255),  # opaque: black outside, white inside
])
def test_mask_file_with_alpha(tmp_path, png, colour, alpha_outside):
    rgba = np.zeros((16, 20, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = alpha_outside
    rgba[4:, :, 3] = 255
    if alpha_outside:
        rgba[:4, :, :3] = 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "mask.png")
    _assert_top_rows_masked_out(tmp_path, png)


def test_jpeg_mask_warns_of_its_noise(tmp_path, png):
    mask = np.zeros((16, 20), np.uint8)
    mask[4:] = 255
    Image.fromarray(mask).save(tmp_path / "mask.jpg", quality=75)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    for name, warns in (("mask.jpg", True), ("mask.png", False)):
        result = run("segment", png, "-k", 2, "--mask", tmp_path / name, "-o",
                     tmp_path / f"{name}.tif", "-q")
        assert result.exit_code == 0, result.output
        assert ("JPEG mask has compression noise" in result.stderr) is warns, name


def test_transparent_mask_file_is_empty(tmp_path, png):
    Image.new("RGBA", (20, 16), (255, 255, 255, 0)).save(tmp_path / "mask.png")
    result = run("segment", png, "-k", 2, "--mask", tmp_path / "mask.png", "-o",
                 tmp_path / "l.tif")
    assert result.exit_code == 1 and "mask is empty" in result.stderr


def test_alpha_mask(tmp_path):
    rgba = np.dstack([blocks()] * 3 + [np.full((16, 20), 255, np.uint8)])
    rgba[:, :3, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    assert run("segment", tmp_path / "a.png", "-k", 2, "-o", tmp_path / "drop.npy",
               "-q").exit_code == 0
    assert np.load(tmp_path / "drop.npy").min() == 1  # alpha dropped: everything segmented
    result = run("segment", tmp_path / "a.png", "-k", 2, "--alpha-mask", "-o",
                 tmp_path / "alpha.npy", "-q")
    assert result.exit_code == 0, result.output
    got = np.load(tmp_path / "alpha.npy")
    assert (got[:, :3] == 0).all() and (got[:, 3:] > 0).all()


def test_outputs_overlay_figure_report(tmp_path, png):
    result = run("segment", png, "-k", 2, "-o", tmp_path / "l.tif", "--overlay",
                 tmp_path / "ov.png", "--figure", tmp_path / "fig.png", "--report",
                 tmp_path / "r.json", "--solver", "dense", "--assign", "kmeans", "--seed", 3,
                 "--beta", 2)
    assert result.exit_code == 0, result.output
    overlay = np.asarray(Image.open(tmp_path / "ov.png"))
    assert overlay.shape == (16, 20, 3) and overlay.dtype == np.uint8
    assert np.all(overlay == [255, 255, 0], axis=-1)[:, 9:11].any()
    assert Image.open(tmp_path / "fig.png").size == (600, 300)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["input"] == str(png) and report["shape"] == [16, 20]
    assert report["n_segments"] == 2 and report["solver"] == "dense"
    assert report["assign"] == "kmeans" and report["seed"] == 3 and report["beta"] == 2
    assert set(report["seconds"]) >= {"read", "graph", "embedding", "assignment", "refinement",
                                      "write", "total"}
    assert len(report["eigenvalues"]) == 2 and 0 <= report["ncut"] < 0.5
    assert set(report["versions"]) >= {"specseg", "numpy", "scipy"}
    assert report["outputs"]["labels"] == str(tmp_path / "l.tif")
    assert sum(report["segment_sizes"]) == 16 * 20
    assert "1 of 1 image segmented" in result.stdout


def test_16bit_tiff_volume_in_multipage_out(tmp_path):
    volume = blocks((3, 8, 10), dtype=np.uint16, top=60000)
    tifffile.imwrite(tmp_path / "v.tif", volume, photometric="minisblack")
    result = run("segment", tmp_path / "v.tif", "-k", 2, "-o", tmp_path / "l.tif",
                 "--overlay", tmp_path / "ov.png", "--figure", tmp_path / "f.png", "-q",
                 "--solver", "dense")
    assert result.exit_code == 0, result.output
    with tifffile.TiffFile(tmp_path / "l.tif") as tif:
        assert len(tif.pages) == 3
        np.testing.assert_array_equal(tif.asarray(), expected_halves((3, 8, 10)))
    assert np.asarray(Image.open(tmp_path / "ov.png")).shape == (8, 10, 3)  # middle slice


def test_volume_to_png_fails_cleanly(tmp_path):
    tifffile.imwrite(tmp_path / "v.tif", blocks((3, 8, 10)), photometric="minisblack")
    result = run("segment", tmp_path / "v.tif", "-k", 2, "-o", tmp_path / "l.png")
    assert result.exit_code == 1
    assert "PNG holds 2-D images" in result.stderr and not (tmp_path / "l.png").exists()


@pytest.mark.parametrize("writer", ["jpeg", "bmp", "rgb-tif", "float-tif"])
def test_input_formats(tmp_path, writer):
    image = blocks()
    if writer == "jpeg":
        path = tmp_path / "a.jpg"
        Image.fromarray(np.dstack([image] * 3)).save(path, quality=95)
    elif writer == "bmp":
        path = tmp_path / "a.bmp"
        iio.imwrite(path, image)
    elif writer == "rgb-tif":
        path = tmp_path / "a.tif"
        tifffile.imwrite(path, np.dstack([image] * 3), photometric="rgb")
    else:
        path = tmp_path / "a.tif"
        tifffile.imwrite(path, image.astype(np.float32) / 255 - 0.5)
    result = run("segment", path, "-k", 2, "-o", tmp_path / "l.npy", "-q")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), expected_halves())


def test_frames_left_unread_are_a_warning_line(tmp_path):
    frames = [Image.fromarray(blocks()), Image.fromarray(blocks()[:, ::-1])]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    result = run("segment", tmp_path / "a.gif", "-k", 2, "-o", tmp_path / "l.tif", "-q")
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warned == [f"specseg: warning: {tmp_path / 'a.gif'}: holds 2 frames; only the first "
                      "is read. For a volume, save the slices (all of one shape) as a multi-page "
                      "TIFF or a 3-D .npy."]


def test_decoder_warnings_show_only_with_verbose(tmp_path, png, monkeypatch):
    import warnings

    import specseg.io as sio

    real = sio.read_image

    def noisy(*args, **kwargs):
        warnings.warn("Corrupt EXIF data", UserWarning, stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(sio, "read_image", noisy)
    quiet = run("segment", png, "-k", 2, "-o", tmp_path / "a.tif", "-q")
    assert quiet.exit_code == 0 and "EXIF" not in quiet.stderr
    with pytest.warns(UserWarning, match="Corrupt EXIF data"):  # to the usual filters
        verbose = run("segment", png, "-k", 2, "-o", tmp_path / "b.tif", "-v")
    assert verbose.exit_code == 0 and "specseg: warning" not in verbose.stderr


def test_channel_axis_for_npy(tmp_path):
    colour = np.stack([blocks()] * 3)  # (3, 16, 20): a volume unless told otherwise
    np.save(tmp_path / "c.npy", colour)
    result = run("segment", tmp_path / "c.npy", "-k", 2, "--channel-axis", 0, "-o",
                 tmp_path / "l.npy", "-q")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), expected_halves())
    result = run("segment", tmp_path / "c.npy", "-k", 2, "--channel-axis", "none", "-o",
                 tmp_path / "v.npy", "-q")
    assert np.load(tmp_path / "v.npy").shape == (3, 16, 20)
    result = run("segment", tmp_path / "c.npy", "-k", 2, "--channel-axis", 5, "-o",
                 tmp_path / "x.npy")
    assert result.exit_code == 1 and "out of range" in result.stderr


# --- batches -------------------------------------------------------------------------------

def test_batch_keeps_going_and_summarises(tmp_path):
    Image.fromarray(blocks()).save(tmp_path / "a.png")
    np.save(tmp_path / "b.npy", blocks(dtype=np.float64))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"
    result = run("segment", tmp_path / "a.png", tmp_path / "bad.png", tmp_path / "missing.tif",
                 tmp_path / "b.npy", "-k", 2, "--out-dir", out, "--format", "png",
                 "--report", str(out / "{stem}.json"))
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()[-3:]
    assert errors[0].startswith("specseg: error: ") and "bad.png" in errors[0]
    assert "missing.tif" in errors[1] and "no such file" in errors[1]
    assert errors[2] == "specseg: 2 of 4 images segmented, 2 failed"
    assert "Traceback" not in result.output
    assert sorted(os.listdir(out)) == ["a.json", "a.labels.png", "b.json", "b.labels.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(out / "b.labels.png")),
                                  expected_halves())


def test_batch_default_format_is_tif(tmp_path):
    for name in ("a", "b"):
        Image.fromarray(blocks(seed=ord(name))).save(tmp_path / f"{name}.png")
    result = run("segment", tmp_path / "a.png", tmp_path / "b.png", "-k", 2, "--out-dir",
                 tmp_path / "o", "--overlay", str(tmp_path / "o" / "{stem}.overlay.png"))
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path / "o")) == [
        "a.labels.tif", "a.overlay.png", "b.labels.tif", "b.overlay.png"]
    assert "specseg: 2 of 2 images segmented" in result.stdout


# --- existing outputs, overwrite, inputs never overwritten --------------------------------

def test_existing_output_needs_overwrite(tmp_path, png):
    out = tmp_path / "l.tif"
    out.write_bytes(b"keep me")
    result = run("segment", png, "-k", 2, "-o", out)
    assert result.exit_code == 1
    assert "already exists" in result.stderr and "--overwrite" in result.stderr
    assert out.read_bytes() == b"keep me"
    result = run("segment", png, "-k", 2, "-o", out, "--overwrite", "-q")
    assert result.exit_code == 0
    np.testing.assert_array_equal(tifffile.imread(out), expected_halves())
    assert sorted(os.listdir(tmp_path)) == ["img.png", "l.tif"]  # no temporary file left


def test_output_that_is_a_directory_refused_in_one_line(tmp_path, png):
    (tmp_path / "l.tif").mkdir()
    result = run("segment", png, "-k", 2, "-o", tmp_path / "l.tif", "--overwrite")
    assert result.exit_code == 1
    assert f"{tmp_path / 'l.tif'}: is a directory; give a file name" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["img.png", "l.tif"]


@pytest.mark.parametrize("option", ["-o", "--overlay", "--report"])
def test_output_equal_to_input_always_refused(tmp_path, option):
    path = tmp_path / "img.png"
    Image.fromarray(blocks()).save(path)
    before = path.read_bytes()
    result = run("segment", path, "-k", 2, option, path, "--overwrite")
    assert result.exit_code == 2 and "is the input" in result.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize("option", ["--overlay", "--figure", "--report"])
def test_missing_output_directory_refused_before_anything_is_written(tmp_path, png, option):
    out = tmp_path / "l.tif"
    result = run("segment", png, "-k", 2, "-o", out, option, tmp_path / "missing" / "x.png")
    assert result.exit_code == 1
    assert "directory" in result.stderr and "does not exist" in result.stderr
    assert not out.exists()  # no half-done set of outputs to clear before a rerun
    assert sorted(os.listdir(tmp_path)) == ["img.png"]


def test_out_dir_that_cannot_be_created_is_one_line(tmp_path, png):
    (tmp_path / "afile").write_bytes(b"")
    result = run("segment", png, "-k", 2, "--out-dir", tmp_path / "afile" / "sub")
    assert result.exit_code == 2 and "cannot create" in result.stderr
    assert "Not a directory" in result.stderr


def test_ucm_extension_checked_before_anything_is_written(tmp_path, png):
    out = tmp_path / "l.tif"
    result = run("segment", png, "-o", out, "--ucm", tmp_path / "u.jpg")
    assert result.exit_code == 2 and "write the contour map as .png, .tif or .tiff" in result.stderr
    assert not out.exists()


# --- usage errors: exit 2 --------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["-k", "auto", "--mode", "fast", "-o", "l.tif"], "'fast' is not one of"),
    (["-k", "0", "-o", "l.tif"], "must be at least 1"),
    (["-k", "many", "-o", "l.tif"], "not a whole number"),
    (["-k", "2"], "nothing to write"),
    (["-k", "2", "-o", "l.tif", "--out-dir", "d"], "not both"),
    (["-k", "2", "-o", "l.jpg"], "unknown label format '.jpg'"),
    (["-k", "2", "--format", "png", "-o", "l.png"], "--format goes with --out-dir"),
    (["-k", "2", "-o", "l.tif", "--solver", "fast"], "'fast' is not one of"),
    (["-k", "2", "-o", "l.tif", "--beta", "0"], "--beta"),
    (["-k", "2", "-o", "l.tif", "--beta", "nan"], "'--beta': nan is not a finite number"),
    (["-o", "l.tif", "--threshold", "nan"], "'--threshold': nan is not a finite number"),
    (["-k", "2", "-o", "l.tif", "--mask", "nope.png"], "no such file"),
    (["-k", "2", "-o", "l.tif", "--channel-axis", "x"], "not an axis number"),
])
def test_usage_errors(tmp_path, monkeypatch, png, args, message):
    monkeypatch.chdir(tmp_path)
    result = run("segment", png, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "l.tif").exists()


def test_usage_errors_several_inputs(tmp_path, png):
    other = tmp_path / "sub"
    other.mkdir()
    Image.fromarray(blocks()).save(other / "img.png")
    result = run("segment", png, other / "img.png", "-o", tmp_path / "l.tif")
    assert result.exit_code == 2 and "use --out-dir" in result.stderr
    result = run("segment", png, other / "img.png", "--out-dir", tmp_path / "o")
    assert result.exit_code == 2 and "would both write" in result.stderr
    assert "both names have the stem 'img'" in result.stderr  # {stem} cannot tell them apart
    result = run("segment", png, other / "img.png", "--out-dir", tmp_path / "o", "--format",
                 "npy", "--overlay", tmp_path / "ov.png")
    assert result.exit_code == 2 and "put {stem} in it" in result.stderr
    result = run("segment", "--out-dir", tmp_path / "o")
    assert result.exit_code == 2 and "Missing argument" in result.stderr


def test_bad_mask_file_and_shape(tmp_path, png):
    (tmp_path / "m.png").write_bytes(b"not an image")
    result = run("segment", png, "-k", 2, "--mask", tmp_path / "m.png", "-o", tmp_path / "l.tif")
    assert result.exit_code == 2 and "not a recognised image" in result.stderr
    Image.fromarray(np.ones((5, 5), np.uint8)).save(tmp_path / "small.png")
    result = run("segment", png, "-k", 2, "--mask", tmp_path / "small.png", "-o",
                 tmp_path / "l.tif")
    assert result.exit_code == 1 and "has shape (5, 5)" in result.stderr


# --- failures of one input: exit 1, one line, traceback only with --debug -----------------

def test_too_many_pixels(tmp_path, png):
    result = run("segment", png, "-k", 2, "-o", tmp_path / "l.tif", "--max-pixels", 100)
    assert result.exit_code == 1
    line, summary = result.stderr.strip().splitlines()[-2:]
    assert line.startswith(f"specseg: error: {png}: ") and "320 pixels" in line
    assert "more than the limit of 100" in line
    assert summary == "specseg: 0 of 1 image segmented, 1 failed"


def test_too_many_segments_is_one_line(tmp_path, png):
    result = run("segment", png, "-k", 1000, "-o", tmp_path / "l.tif")
    assert result.exit_code == 1
    assert "n_segments=1000 is more than the 320 pixels" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "npy"])
def test_truncated_input_clean_error(tmp_path, ext):
    path = tmp_path / f"t.{ext}"
    if ext == "npy":
        np.save(path, blocks())
    elif ext == "tif":
        tifffile.imwrite(path, blocks())
    else:
        Image.fromarray(blocks()).save(path)
    path.write_bytes(path.read_bytes()[:60])
    result = run("segment", path, "-k", 2, "-o", tmp_path / "l.tif")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and str(path) in errors[0] and "Traceback" not in result.output


def test_debug_prints_traceback(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"junk")
    result = run("segment", tmp_path / "bad.png", "-o", tmp_path / "l.tif", "--debug")
    assert result.exit_code == 1 and "Traceback" in result.stderr


class _FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_terminals_only(monkeypatch):
    from specseg.cli import STAGES, _ProgressBar

    terminal = _FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with _ProgressBar("img.png", quiet=False) as progress:
        progress("graph", 0.0)
        progress.bar.refresh()
        assert "img.png" in terminal.getvalue() and "graph" in terminal.getvalue()
        for stage in STAGES:
            progress(stage, 0.0)
            progress(stage, 1.0)
        assert progress.bar.n == len(STAGES)
    with _ProgressBar("img.png", quiet=True) as progress:
        assert progress.bar.disable
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: no bar in logs
    with _ProgressBar("img.png", quiet=False) as progress:
        assert progress.bar.disable


@pytest.mark.parametrize("mode", ["pixels", "regions", "contours"])
def test_progress_bar_counts_the_stages_of_the_mode_used(monkeypatch, mode):
    # the bar counted the 4 pixel-mode stages in every mode: stuck at 0/4 through
    # the contour hierarchy (the default for photographs), full at 4/4 before the
    # region mode's merging and boundaries
    from specseg.cli import STAGES_BY_MODE, _ProgressBar

    monkeypatch.setattr(sys, "stderr", _FakeTerminal())
    with _ProgressBar("img.png", quiet=False) as progress:  # --mode auto
        for stage in STAGES_BY_MODE[mode]:
            progress(stage, 0.0)
            progress(stage, 1.0)
        assert progress.bar.n == progress.bar.total == len(STAGES_BY_MODE[mode])


def test_verbose(tmp_path, png):
    result = run("segment", png, "-k", 2, "-o", tmp_path / "l.tif", "-v")
    assert result.exit_code == 0
    timings = [line for line in result.stderr.splitlines() if "graph " in line and " s," in line]
    assert timings and "refinement" in timings[-1] and "total" in timings[-1]
    assert f"{png}: 2 segments of 320 pixels" in result.stdout


def test_disconnected_warning_is_one_line(tmp_path, png):
    mask = np.zeros((16, 20), np.uint8)
    mask[:, :4] = mask[:, 12:] = 1
    Image.fromarray(mask).save(tmp_path / "m.png")
    result = run("segment", png, "-k", 2, "--mask", tmp_path / "m.png", "-o",
                 tmp_path / "l.tif", "-q")
    assert result.exit_code == 0
    warned = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warned) == 1 and warned[0].startswith(f"specseg: warning: {png}: ")


# --- help and version --------------------------------------------------------------------

def test_help_texts():
    top = run("--help")
    assert top.exit_code == 0 and "segment" in top.stdout and "demo" in top.stdout
    helptext = run("segment", "--help").stdout
    for needle in ("--segments", "--out-dir", "--format", "--overlay", "--figure", "--report",
                   "--mask", "--alpha-mask", "--channel-axis", "--beta", "--solver", "--assign",
                   "--seed", "--max-pixels", "--overwrite", "--quiet", "--verbose", "--debug",
                   "0 is outside the mask", "Exit status"):
        assert needle in helptext, needle
    assert run("demo", "--help").exit_code == 0
    assert run("--version").stdout.startswith("specseg, version ")
    assert run("segment").exit_code == 2  # no inputs: usage shown


# --- the demo -----------------------------------------------------------------------------

def test_demo_never_overwrites_without_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("photo.png").write_bytes(b"a user's photo")
    result = run("demo", "--size", 16, "-o", "photo.png")
    assert result.exit_code == 1 and "already exists" in result.stderr
    assert "--overwrite" in result.stderr
    assert Path("photo.png").read_bytes() == b"a user's photo"
    result = run("demo", "--size", 16, "-o", "photo.png", "--overwrite")
    assert result.exit_code == 0, result.output
    assert Path("photo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["photo.png"]  # no temporary file left


def test_demo_reruns_replace_only_its_own_figure(tmp_path, monkeypatch):
    # the README's demo command, run twice, works; a user's PNG is never its figure
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        result = run("demo", "--size", 16)
        assert result.exit_code == 0, result.output
    assert os.listdir(tmp_path) == ["specseg-demo.png"]
    Image.new("L", (4, 4)).save("specseg-demo.png")  # a PNG the demo did not write
    result = run("demo", "--size", 16)
    assert result.exit_code == 1 and "already exists" in result.stderr
    with Image.open("specseg-demo.png") as kept:
        assert kept.size == (4, 4)


@pytest.mark.parametrize("name, code, message", [
    ("notes.txt", 2, "cannot write a figure as '.txt'"),
    ("missing/demo.png", 1, "directory missing does not exist"),
])
def test_demo_bad_output_is_one_line(tmp_path, monkeypatch, name, code, message):
    monkeypatch.chdir(tmp_path)
    result = run("demo", "--size", 16, "-o", name)
    assert result.exit_code == code and message in result.stderr
    assert "Traceback" not in result.output
    assert os.listdir(tmp_path) == []


def test_demo_without_extension_writes_the_png_it_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("demo", "--size", 16, "-o", "figure")
    assert result.exit_code == 0 and "written to figure" in result.stdout
    assert os.listdir(tmp_path) == ["figure"]
    assert Path("figure").read_bytes()[:4] == b"\x89PNG"


# --- a real process ------------------------------------------------------------------------

def _specseg(*args, cwd):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "specseg", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_subprocess_end_to_end(tmp_path):
    Image.fromarray(np.dstack([blocks()] * 3)).save(tmp_path / "photo.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    done = _specseg("segment", "photo.png", "-k", "2", "-o", "photo.labels.tif", "--report",
                    "photo.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "photo.labels.tif"),
                                  expected_halves())
    assert json.loads((tmp_path / "photo.json").read_text())["n_segments"] == 2
    failed = _specseg("segment", "photo.png", "broken.jpg", "-k", "2", "--out-dir", "out", "-q",
                      cwd=tmp_path)
    assert failed.returncode == 1 and failed.stdout == ""
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("specseg: error: broken.jpg: ")
    assert lines[1] == "specseg: 1 of 2 images segmented, 1 failed"
    usage = _specseg("segment", "photo.png", "-k", "0", "-o", "x.tif", cwd=tmp_path)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_auto_k_and_mode_reported(tmp_path, png):
    out = tmp_path / "auto.tif"
    report = tmp_path / "auto.json"
    result = run("segment", png, "-k", "auto", "--mode", "pixels", "-o", out, "--report", report,
                 "--quiet")
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["mode"] == "pixels" and data["n_segments"] >= 2
    labels = tifffile.imread(out)
    assert labels.max() == data["n_segments"]


CORRUPT_TIFF = (b"II*\x00\x08\x00\x00\x00\x01\x00\x00\x01\x03\x00\x01\x00\x00\x00\x04\x00"
                b"\x00\x00\x00\x00\x00\x00")


def test_a_corrupt_tiff_fails_in_one_line_without_library_logs(tmp_path):
    import subprocess
    import sys

    (tmp_path / "c.tif").write_bytes(CORRUPT_TIFF)
    command = [sys.executable, "-m", "specseg", "segment", str(tmp_path / "c.tif"), "-o",
               str(tmp_path / "c.labels.tif")]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 1
    errors = [line for line in quiet.stderr.splitlines() if "c.tif" in line]
    assert len(errors) == 1 and errors[0].startswith("specseg: error:")
    assert "tifffile" not in quiet.stderr
    verbose = subprocess.run(command + ["-v"], capture_output=True, text=True, timeout=120)
    assert "tifffile" in verbose.stderr  # the library's own lines with -v


# --- colour volumes and no-data pixels -------------------------------------------------------

def colour_volume(shape=(4, 12, 14)):
    """Left half dark red, right half bright green, channels last, uint8."""
    grey = blocks(shape)
    return np.stack([255 - grey, grey, np.full_like(grey, 40)], axis=-1)


@pytest.mark.parametrize("name, extra", [
    ("v.npy", ()), ("v.npy", ("--channel-axis", -1)),
    ("v.tif", ()), ("v.tif", ("--channel-axis", -1)),
])
def test_colour_volume_is_segmented(tmp_path, name, extra):
    volume = colour_volume()
    if name.endswith(".npy"):
        np.save(tmp_path / name, volume)
    else:
        tifffile.imwrite(tmp_path / name, volume, photometric="rgb")
    result = run("segment", tmp_path / name, "-k", 2, "-o", tmp_path / "out.tif", "--quiet",
                 *extra)
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_label_file(tmp_path / "out.tif"),
                                  expected_halves(volume.shape[:-1]))


def test_channels_first_colour_volume_with_channel_axis(tmp_path):
    volume = np.moveaxis(colour_volume(), -1, 0).repeat(2, axis=0)  # 6 channels first
    np.save(tmp_path / "v.npy", volume)
    result = run("segment", tmp_path / "v.npy", "-k", 2, "-o", tmp_path / "out.tif", "--quiet")
    assert result.exit_code == 1 and "--channel-axis AXIS" in result.output
    result = run("segment", tmp_path / "v.npy", "-k", 2, "-o", tmp_path / "out.tif", "--quiet",
                 "--channel-axis", 0)
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_label_file(tmp_path / "out.tif"),
                                  expected_halves(volume.shape[1:]))


def test_5d_npy_refused_in_one_line(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((2, 2, 4, 4, 3)))
    result = run("segment", tmp_path / "v.npy", "-o", tmp_path / "out.tif")
    assert result.exit_code == 1
    assert "2-D or a 3-D volume, plus an optional channel axis" in result.output


@pytest.mark.parametrize("name", ["f.tif", "f.npy"])
def test_nan_pixels_are_left_out_with_a_warning(tmp_path, name):
    image = blocks(dtype=np.float32)
    image[:, :3] = np.nan
    image[0, 5] = -np.inf
    if name.endswith(".npy"):
        np.save(tmp_path / name, image)
    else:
        tifffile.imwrite(tmp_path / name, image)
    result = run("segment", tmp_path / name, "-k", 2, "-o", tmp_path / "out.tif",
                 "--overlay", tmp_path / "ov.png")
    assert result.exit_code == 0, result.output
    assert "49 of 320 pixels are NaN or inf (no data): left out of the mask" in result.output
    expected = expected_halves()
    expected[:, :3] = 0
    expected[0, 5] = 0
    np.testing.assert_array_equal(read_label_file(tmp_path / "out.tif"), expected)


def test_nan_pixels_combine_with_the_mask(tmp_path):
    image = blocks(dtype=np.float32)
    image[:, :3] = np.nan
    np.save(tmp_path / "f.npy", image)
    mask = np.full(image.shape, 255, np.uint8)
    mask[:2] = 0
    Image.fromarray(mask).save(tmp_path / "m.png")
    result = run("segment", tmp_path / "f.npy", "-k", 2, "-o", tmp_path / "out.tif",
                 "--mask", tmp_path / "m.png", "--quiet")
    assert result.exit_code == 0, result.output
    expected = expected_halves()
    expected[:, :3] = 0
    expected[:2] = 0
    np.testing.assert_array_equal(read_label_file(tmp_path / "out.tif"), expected)


def test_all_nan_image_fails_in_one_line(tmp_path):
    np.save(tmp_path / "f.npy", np.full((8, 8), np.nan))
    result = run("segment", tmp_path / "f.npy", "-o", tmp_path / "out.tif")
    assert result.exit_code == 1
    assert "every pixel is NaN or inf (no data); nothing to segment" in result.output


def test_channel_axis_none_on_a_colour_volume_refused(tmp_path):
    np.save(tmp_path / "v.npy", colour_volume())
    result = run("segment", tmp_path / "v.npy", "-o", tmp_path / "out.tif",
                 "--channel-axis", "none")
    assert result.exit_code == 1
    assert "--channel-axis none leaves an image of shape (4, 12, 14, 3)" in result.output


def test_summary_line_says_one_segment_in_the_singular(tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 40), 128, np.uint8)).save(path)
    result = CliRunner().invoke(main, ["segment", str(path), "-k", "auto",
                                       "-o", str(tmp_path / "blank.tif")])
    assert result.exit_code == 0, result.output
    assert f"{path}: 1 segment of 1600 pixels" in result.stdout


def test_spacing_of_an_anisotropic_volume(tmp_path):
    # the command had no way to say that slices lie farther apart than pixels
    from specseg import segment
    from specseg.datasets import balls

    volume, _ = balls(32, n_balls=2, noise=0.05, random_state=0)
    np.save(tmp_path / "v.npy", volume)
    result = CliRunner().invoke(main, ["segment", str(tmp_path / "v.npy"), "-k", "3",
                                       "--spacing", "5,1,1", "-o", str(tmp_path / "v.npy.tif")])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_label_file(tmp_path / "v.npy.tif"),
                                  segment(volume, 3, spacing=(5, 1, 1), random_state=0) + 1)
    for bad, match in (("5,x", "not a number"), ("0", "positive")):
        result = CliRunner().invoke(main, ["segment", str(tmp_path / "v.npy"), "--spacing",
                                           bad, "-o", str(tmp_path / "w.tif")])
        assert result.exit_code == 2 and match in result.output, result.output
    result = CliRunner().invoke(main, ["segment", str(tmp_path / "v.npy"), "--spacing", "5,1",
                                       "-o", str(tmp_path / "w.tif")])
    assert result.exit_code == 1 and "spacing has 2 values" in result.output


@pytest.mark.parametrize("args", [["--mode", "contours"], ["--ucm", "u.png"]])
def test_contour_mode_errors_name_the_command_line_option(tmp_path, monkeypatch, args):
    """The contour mode's errors named only the Python call (mode='pixels')."""
    monkeypatch.chdir(tmp_path)
    Image.fromarray(blocks((6, 8))).save("tiny.png")
    result = run("segment", "tiny.png", "-k", "auto", "-o", "l.tif", *args)
    assert result.exit_code == 1 and "at least 9 x 9" in result.stderr
    assert "(--mode pixels)" in result.stderr


def test_too_many_segments_for_the_contour_hierarchy_names_the_option(tmp_path):
    image = np.zeros((48, 48), dtype=np.uint8)
    image[:, 24:] = 200
    path = tmp_path / "halves.png"
    Image.fromarray(image).save(path)
    result = run("segment", path, "-k", 500, "--mode", "contours", "-o", tmp_path / "l.tif")
    assert result.exit_code == 1 and "(--mode regions)" in result.stderr

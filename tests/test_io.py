"""specseg.io: reading every supported format, size checks, label writing."""

import os
import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from specseg import io as sio
from specseg.io import ImageReadError, ImageTooLargeError, read_image, write_labels

from .conftest import read_label_file


def ramp(shape=(12, 16), dtype=np.uint8, top=None):
    """A deterministic image whose pixels are all different (up to the dtype)."""
    if top is None:
        top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    values = np.linspace(0, top, num=int(np.prod(shape)))
    return values.reshape(shape).astype(dtype)


def _chunk(kind, data):
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16(path, array, filters=(0, 1, 2, 3, 4)):
    """Encode an (M, N, 2|3|4) uint16 array (grey + alpha, RGB, RGBA) as a 16-bit PNG,
    cycling through the row filters."""
    height, width, channels = array.shape
    bpp = 2 * channels
    raw = array.astype(">u2").view(np.uint8).reshape(height, width * bpp).astype(np.int64)
    out = []
    for y in range(height):
        line = raw[y]
        up = raw[y - 1] if y else np.zeros_like(line)
        left = np.concatenate([np.zeros(bpp, np.int64), line[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int64), up[:-bpp]])
        kind = filters[y % len(filters)]
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = up
        elif kind == 3:
            pred = (left + up) // 2
        else:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        out.append(bytes([kind]) + ((line - pred) % 256).astype(np.uint8).tobytes())

    chunk = _chunk
    colour_type = {2: 4, 3: 2, 4: 6}[channels]
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"".join(out))) + chunk(b"IEND", b""))


# --- reading: every format ----------------------------------------------------------------

def test_png_grey_uint8(tmp_path):
    image = ramp()
    Image.fromarray(image).save(tmp_path / "a.png")
    got, channel_axis, mask = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(got, image)
    assert got.dtype == np.uint8 and channel_axis is None and mask is None


def test_png_grey_16bit_values_kept(tmp_path):
    image = ramp(dtype=np.uint16)
    Image.fromarray(image).save(tmp_path / "a.png")
    got = read_image(tmp_path / "a.png").image
    assert got.dtype == np.uint16 and got.max() > 255
    np.testing.assert_array_equal(got, image)


@pytest.mark.parametrize("channels", [3, 4])
def test_png_colour_16bit_values_kept(tmp_path, channels):
    image = ramp((10, 13, channels), dtype=np.uint16)
    image[..., -1] = np.where(np.arange(13) < 6, 0, 65535)
    png16(tmp_path / "c.png", image)
    got, channel_axis, mask = read_image(tmp_path / "c.png", alpha_mask=channels == 4)
    assert got.dtype == np.uint16 and channel_axis == -1
    np.testing.assert_array_equal(got, image[..., :3])
    if channels == 4:
        np.testing.assert_array_equal(mask, image[..., 3] > 0)


def test_png_grey_alpha_16bit_values_kept(tmp_path):
    # Pillow opens a 16-bit grey + alpha PNG as 8-bit RGBA
    image = ramp((10, 13, 2), dtype=np.uint16)
    image[..., 1] = np.where(np.arange(13) < 6, 0, 65535)
    png16(tmp_path / "la.png", image)
    got, channel_axis, mask = read_image(tmp_path / "la.png", alpha_mask=True)
    assert got.dtype == np.uint16 and got.shape == (10, 13) and channel_axis is None
    np.testing.assert_array_equal(got, image[..., 0])
    np.testing.assert_array_equal(mask, image[..., 1] > 0)


def test_png16_truncated_is_clean(tmp_path):
    png16(tmp_path / "c.png", ramp((10, 13, 3), dtype=np.uint16))
    data = (tmp_path / "c.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="t.png"):
        read_image(tmp_path / "t.png")


def test_png_rgb_and_rgba(tmp_path):
    rgba = ramp((12, 16, 4))
    rgba[..., 3] = 0
    rgba[4:, :, 3] = 255
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    got, channel_axis, mask = read_image(tmp_path / "a.png")
    assert got.shape == (12, 16, 3) and channel_axis == -1 and mask is None
    np.testing.assert_array_equal(got, rgba[..., :3])
    _, _, mask = read_image(tmp_path / "a.png", alpha_mask=True)
    np.testing.assert_array_equal(mask, rgba[..., 3] > 0)


def test_grey_alpha_png(tmp_path):
    la = np.stack([ramp(), np.full((12, 16), 255, np.uint8)], axis=-1)
    la[:3, :, 1] = 0
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    got, channel_axis, mask = read_image(tmp_path / "la.png", alpha_mask=True)
    assert got.shape == (12, 16) and channel_axis is None
    assert mask.sum() == 9 * 16


def test_alpha_mask_without_alpha(tmp_path):
    Image.fromarray(ramp()).save(tmp_path / "a.png")
    with pytest.raises(ImageReadError, match="no alpha channel"):
        read_image(tmp_path / "a.png", alpha_mask=True)


@pytest.mark.parametrize("transparency", [False, True])
def test_palette_png_is_colour(tmp_path, transparency):
    im = Image.fromarray((np.arange(12 * 16).reshape(12, 16) % 4).astype(np.uint8), mode="P")
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    im.save(tmp_path / "p.png", **({"transparency": 3} if transparency else {}))
    got, channel_axis, mask = read_image(tmp_path / "p.png", alpha_mask=transparency)
    assert got.shape == (12, 16, 3) and channel_axis == -1
    np.testing.assert_array_equal(got[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(got[0, 2], [0, 0, 255])
    if transparency:
        assert not mask[0, 3] and mask[0, 0]


def test_bilevel_png(tmp_path):
    Image.fromarray(ramp() > 100).save(tmp_path / "b.png")
    got = read_image(tmp_path / "b.png").image
    assert got.dtype == np.uint8 and set(np.unique(got)) == {0, 255}


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_jpeg(tmp_path, mode):
    image = ramp((16, 16, 3)) if mode == "RGB" else ramp((16, 16))
    Image.fromarray(image).save(tmp_path / "a.jpg", quality=95)
    got, channel_axis, _ = read_image(tmp_path / "a.jpg")
    assert got.shape == image.shape and channel_axis == (-1 if mode == "RGB" else None)
    assert np.abs(got.astype(int) - image).mean() < 8  # lossy


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    got, channel_axis, _ = read_image(tmp_path / "c.jpg")
    assert got.shape == (6, 8, 3) and channel_axis == -1


@pytest.mark.parametrize("shape", [(12, 16), (12, 16, 3)])
def test_bmp_via_imageio(tmp_path, shape):
    image = ramp(shape)
    iio.imwrite(tmp_path / "a.bmp", image)
    got, channel_axis, _ = read_image(tmp_path / "a.bmp")
    np.testing.assert_array_equal(got, image)
    assert channel_axis == (-1 if len(shape) == 3 else None)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path, orientation):
    from PIL import ImageOps

    image = ramp((6, 10, 3))
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(image).save(tmp_path / "o.png", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    got = read_image(tmp_path / "o.png").image
    assert got.shape == ((10, 6, 3) if orientation >= 5 else (6, 10, 3))
    np.testing.assert_array_equal(got, expected)
    # the 16-bit colour path applies the same orientation
    np.testing.assert_array_equal(sio._orient(image, orientation), expected)


def test_exif_orientation_jpeg(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    Image.fromarray(ramp((8, 16))).save(tmp_path / "o.jpg", exif=exif)
    assert read_image(tmp_path / "o.jpg").image.shape == (16, 8)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_tiff_grey_dtypes(tmp_path, dtype):
    image = ramp(dtype=np.uint16).astype(dtype)
    if dtype == np.float32:
        image = image / 7.5 - 1000  # negative and fractional values are kept
    tifffile.imwrite(tmp_path / "a.tif", image)
    got, channel_axis, _ = read_image(tmp_path / "a.tif")
    assert got.dtype == dtype and channel_axis is None
    np.testing.assert_array_equal(got, image)


def test_tiff_rgb_and_planar(tmp_path):
    image = ramp((12, 16, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "rgb.tif", image, photometric="rgb")
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(image, -1, 0), photometric="rgb",
                     planarconfig="separate")
    for name in ("rgb.tif", "planar.tif"):
        got, channel_axis, _ = read_image(tmp_path / name)
        assert channel_axis == -1
        np.testing.assert_array_equal(got, image)


def test_tiff_rgba_alpha(tmp_path):
    image = ramp((12, 16, 4))
    image[..., 3] = 0
    image[:, 8:, 3] = 255
    tifffile.imwrite(tmp_path / "a.tif", image, photometric="rgb", extrasamples=["unassalpha"])
    got, channel_axis, mask = read_image(tmp_path / "a.tif", alpha_mask=True)
    assert got.shape == (12, 16, 3) and channel_axis == -1
    np.testing.assert_array_equal(mask, image[..., 3] > 0)


def test_tiff_multipage_is_volume(tmp_path):
    volume = ramp((5, 12, 16), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "v.tif", volume, photometric="minisblack")
    assert len(tifffile.TiffFile(tmp_path / "v.tif").pages) == 5
    got, channel_axis, _ = read_image(tmp_path / "v.tif")
    assert channel_axis is None
    np.testing.assert_array_equal(got, volume)


@pytest.mark.parametrize("photometric", ["minisblack", "rgb"])
def test_tiff_pages_written_one_by_one_are_a_volume(tmp_path, photometric):
    # a stack saved slice by slice (one write per page: each page a series of its
    # own) was read as its first slice, with a warning of "images of different
    # shapes or kinds"
    volume = ramp((4, 12, 16, 3) if photometric == "rgb" else (4, 12, 16), dtype=np.uint16)
    with tifffile.TiffWriter(tmp_path / "s.tif") as tif:
        for page in volume:
            tif.write(page, photometric=photometric)
    assert len(tifffile.TiffFile(tmp_path / "s.tif").series) == 4
    got, channel_axis, _ = read_image(tmp_path / "s.tif")
    np.testing.assert_array_equal(got, volume)
    assert channel_axis == (-1 if photometric == "rgb" else None)
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / "s.tif", max_pixels=4 * 12 * 16 - 1)


def test_tiff_pages_of_different_shapes_warn(tmp_path):
    with tifffile.TiffWriter(tmp_path / "r.tif") as tif:
        tif.write(ramp((12, 16)))
        tif.write(ramp((6, 8)))
    with pytest.warns(UserWarning, match=r"holds 2 images .* only the first \(shape \(12, 16\)\)"):
        got = read_image(tmp_path / "r.tif").image
    np.testing.assert_array_equal(got, ramp((12, 16)))


def test_animated_gif_warns_that_one_frame_is_read(tmp_path):
    frames = [Image.fromarray(ramp()), Image.fromarray(ramp()[::-1])]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match="holds 2 frames; only the first is read"):
        got = read_image(tmp_path / "a.gif").image
    assert got.shape[:2] == (12, 16)


def test_tiff_multipage_rgb_volume(tmp_path):
    volume = ramp((3, 8, 10, 3))
    tifffile.imwrite(tmp_path / "v.tif", volume, photometric="rgb")
    got, channel_axis, _ = read_image(tmp_path / "v.tif")
    assert got.shape == (3, 8, 10, 3) and channel_axis == -1


def test_tiff_palette(tmp_path):
    index = (np.arange(12 * 16).reshape(12, 16) % 3).astype(np.uint8)
    colormap = np.zeros((3, 256), np.uint16)
    colormap[:, 1] = [65535, 0, 0]
    colormap[:, 2] = [0, 0, 65535]
    tifffile.imwrite(tmp_path / "p.tif", index, photometric="palette", colormap=colormap)
    got, channel_axis, _ = read_image(tmp_path / "p.tif")
    assert got.shape == (12, 16, 3) and channel_axis == -1
    np.testing.assert_array_equal(got[0, 1], [65535, 0, 0])


def test_tiff_4d_refused(tmp_path):
    tifffile.imwrite(tmp_path / "h.tif", np.zeros((2, 3, 8, 8), np.uint8), imagej=True,
                     metadata={"axes": "TZYX"})
    with pytest.raises(ImageReadError, match="2-D images and 3-D volumes"):
        read_image(tmp_path / "h.tif")


@pytest.mark.parametrize("shape", [(12, 16), (4, 12, 16)])
def test_npy(tmp_path, shape):
    image = ramp(shape, dtype=np.float32)
    np.save(tmp_path / "a.npy", image)
    got, channel_axis, _ = read_image(tmp_path / "a.npy")
    assert channel_axis is None
    np.testing.assert_array_equal(got, image)


@pytest.mark.parametrize("array, match", [
    (np.zeros(5), "2-D or a 3-D volume"),
    (np.zeros((2, 2), complex), "must be numeric and real .*array.real"),
    (np.array([["a", "b"]]), "must be numeric"),
])
def test_npy_refused(tmp_path, array, match):
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(ImageReadError, match=match):
        read_image(tmp_path / "a.npy")


# --- size limit: refused from the header, before decoding --------------------------------

def test_too_large_png_header_only(tmp_path):
    # a PNG that claims 100000 x 100000 pixels but holds no pixel data
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    chunk = _chunk
    (tmp_path / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 99))
        + chunk(b"IEND", b""))
    with pytest.raises(ImageTooLargeError, match="10000000000 pixels"):
        read_image(tmp_path / "bomb.png")


def test_too_large_npy_header_only(tmp_path):
    with open(tmp_path / "bomb.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<u1", "fortran_order": False, "shape": (100_000, 100_000)})
    with pytest.raises(ImageTooLargeError, match="more than the limit"):
        read_image(tmp_path / "bomb.npy")


def test_too_large_checked_before_decoding(tmp_path, monkeypatch):
    from PIL import ImageFile

    Image.fromarray(ramp()).save(tmp_path / "a.png")
    tifffile.imwrite(tmp_path / "v.tif", ramp((3, 12, 16)), photometric="minisblack")

    def boom(*args, **kwargs):
        raise AssertionError("decoded pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", boom, raising=False)
    monkeypatch.setattr(tifffile.TiffFile, "asarray", boom)
    for name, n_pixels in (("a.png", 192), ("v.tif", 576)):
        with pytest.raises(ImageTooLargeError, match=f"{n_pixels} pixels"):
            read_image(tmp_path / name, max_pixels=100)


def test_limit_counts_pixels_not_channels(tmp_path):
    Image.fromarray(ramp((10, 10, 3))).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png", max_pixels=100).image.shape == (10, 10, 3)


def test_larger_limit_than_pillows_guard(tmp_path, monkeypatch):
    # Pillow's own decompression-bomb guard must not override max_pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    Image.fromarray(ramp()).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png").image.shape == (12, 16)
    assert Image.MAX_IMAGE_PIXELS == 50


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_max_pixels(tmp_path, bad):
    with pytest.raises(ValueError, match="max_pixels"):
        read_image(tmp_path / "x.png", max_pixels=bad)


def test_numpy_integer_max_pixels(tmp_path):
    Image.fromarray(ramp()).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png", max_pixels=np.int64(192)).image.shape == (12, 16)
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / "a.png", max_pixels=np.int64(191))


# --- clean errors for bad files -------------------------------------------------------------

def _good_files(tmp_path):
    Image.fromarray(ramp()).save(tmp_path / "g.png")
    Image.fromarray(ramp((16, 16, 3))).save(tmp_path / "g.jpg")
    tifffile.imwrite(tmp_path / "g.tif", ramp(dtype=np.uint16))
    np.save(tmp_path / "g.npy", ramp())
    return {ext: (tmp_path / f"g.{ext}").read_bytes() for ext in ("png", "jpg", "tif", "npy")}


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "npy"])
def test_truncated_files(tmp_path, ext):
    data = _good_files(tmp_path)[ext]
    (tmp_path / f"t.{ext}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=f"t.{ext}"):
        read_image(tmp_path / f"t.{ext}")


@pytest.mark.parametrize("content, match", [
    (b"", "file is empty"),
    (b"hello, this is text\n", "not a recognised image"),
])
def test_not_images(tmp_path, content, match):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(ImageReadError, match=match):
        read_image(tmp_path / "x.png")


def test_missing_and_directory(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)


def test_errors_are_one_line(tmp_path):
    (tmp_path / "t.tif").write_bytes(b"II*\x00" + b"\xff" * 40)
    with pytest.raises(ImageReadError) as excinfo:
        read_image(tmp_path / "t.tif")
    assert "\n" not in str(excinfo.value) and "t.tif" in str(excinfo.value)


_FUZZ_SEEDS = {}


def _fuzz_seed(tmp_path_factory):
    if not _FUZZ_SEEDS:
        _FUZZ_SEEDS.update(_good_files(tmp_path_factory.mktemp("seeds")))
    return _FUZZ_SEEDS


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ext=st.sampled_from(["png", "jpg", "tif", "npy"]),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=6),
)
def test_fuzz_reader_fails_cleanly(tmp_path_factory, ext, cut, flips):
    data = bytearray(_fuzz_seed(tmp_path_factory)[ext])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    data = bytes(data[: max(1, int(cut * len(data)))]) if cut < 1 else bytes(data)
    path = tmp_path_factory.mktemp("fuzz") / f"f.{ext}"
    path.write_bytes(data)
    try:
        result = read_image(path, max_pixels=10_000)
    except ImageReadError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(result.image, np.ndarray)


# --- writing labels ---------------------------------------------------------------------------

LABELS = np.array([[-1, 0, 0, 1], [-1, 2, 2, 1], [0, 0, 1, 1]])


@pytest.mark.parametrize("name, dtype", [
    ("l.tif", np.uint16), ("l.tiff", np.uint16), ("l.png", np.uint8), ("l.npy", np.uint16),
])
def test_write_labels_formats_plus_one(tmp_path, name, dtype):
    got = read_label_file(write_labels(tmp_path / name, LABELS))
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, LABELS + 1)  # 0 outside the mask, segments 1..k


def test_write_labels_wide_types(tmp_path):
    many = np.arange(300).reshape(15, 20)
    write_labels(tmp_path / "l.png", many)
    got = np.asarray(Image.open(tmp_path / "l.png"))
    assert got.dtype == np.uint16 and got.max() == 300
    huge = np.arange(70_000).reshape(280, 250)
    write_labels(tmp_path / "l.tif", huge)
    got = tifffile.imread(tmp_path / "l.tif")
    assert got.dtype == np.uint32 and got.max() == 70_000
    write_labels(tmp_path / "l.npy", huge)
    assert np.load(tmp_path / "l.npy").dtype == np.uint32
    with pytest.raises(ValueError, match="16-bit PNG"):
        write_labels(tmp_path / "big.png", huge)


def test_write_labels_volume_multipage(tmp_path):
    volume = np.stack([LABELS, LABELS[::-1], LABELS])
    write_labels(tmp_path / "v.tif", volume)
    with tifffile.TiffFile(tmp_path / "v.tif") as tif:
        assert len(tif.pages) == 3
        np.testing.assert_array_equal(tif.asarray(), volume + 1)
    with pytest.raises(ValueError, match="PNG holds 2-D"):
        write_labels(tmp_path / "v.png", volume)


def test_write_labels_no_overwrite_and_atomic(tmp_path):
    path = tmp_path / "l.tif"
    write_labels(path, LABELS)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_labels(path, LABELS[::-1])
    assert path.read_bytes() == before
    write_labels(path, LABELS[::-1], overwrite=True)
    np.testing.assert_array_equal(tifffile.imread(path), LABELS[::-1] + 1)
    assert sorted(os.listdir(tmp_path)) == ["l.tif"]  # no temporary file left behind
    assert (os.stat(path).st_mode & 0o777) == 0o666 & ~sio._umask()


def test_write_labels_onto_a_directory_names_it(tmp_path):
    (tmp_path / "l.tif").mkdir()
    with pytest.raises(IsADirectoryError, match=r"l\.tif: is a directory; give a file name"):
        write_labels(tmp_path / "l.tif", LABELS, overwrite=True)
    assert (tmp_path / "l.tif").is_dir() and os.listdir(tmp_path) == ["l.tif"]


def test_atomic_output_cleans_up_on_error(tmp_path):
    with pytest.raises(RuntimeError), sio.atomic_output(tmp_path / "x.png") as tmp:
        open(tmp, "wb").write(b"partial")
        raise RuntimeError("writer failed")
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_labels(tmp_path / "no" / "l.tif", LABELS)


@pytest.mark.parametrize("labels, match", [
    (LABELS.astype(float), "must be integers"),
    (LABELS - 1, ">= -1"),
    (np.zeros(4, int), "2-D or 3-D"),
])
def test_write_labels_bad_labels(tmp_path, labels, match):
    with pytest.raises(ValueError, match=match):
        write_labels(tmp_path / "l.tif", labels)


def test_write_labels_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="extension '.jpg'"):
        write_labels(tmp_path / "l.jpg", LABELS)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_tiff_orientation_tag_is_applied(tmp_path, orientation):
    image = ramp((6, 10))
    tifffile.imwrite(tmp_path / "o.tif", image, extratags=[(274, "H", 1, orientation, True)])
    reference = Image.fromarray(image)
    exif = reference.getexif()
    exif[0x0112] = orientation
    reference.save(tmp_path / "o.png", exif=exif)
    expected = read_image(tmp_path / "o.png").image  # Pillow's exif_transpose
    np.testing.assert_array_equal(read_image(tmp_path / "o.tif").image, expected)


def test_tiff_orientation_tag_turns_every_page_of_a_volume(tmp_path):
    volume = ramp((3, 6, 10))
    tifffile.imwrite(tmp_path / "v.tif", volume, photometric="minisblack",
                     extratags=[(274, "H", 1, 6, True)])
    got = read_image(tmp_path / "v.tif").image
    assert got.shape == (3, 10, 6)
    np.testing.assert_array_equal(got[1], np.rot90(volume[1], k=-1))


# --- colour volumes and volumes of one slice ------------------------------------------------

def test_npy_colour_volume_is_read_channels_last(tmp_path):
    volume = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    np.save(tmp_path / "v.npy", volume)
    got, channel_axis, mask = read_image(tmp_path / "v.npy")
    assert channel_axis == -1 and mask is None
    np.testing.assert_array_equal(got, volume)


def test_npy_4d_with_many_channels_needs_the_channel_axis(tmp_path):
    volume = np.zeros((5, 3, 4, 6), np.float32)  # channels first: (C, Z, Y, X)
    np.save(tmp_path / "v.npy", volume)
    with pytest.raises(ImageReadError, match=r"last axis has 6 entries.*--channel-axis AXIS"):
        read_image(tmp_path / "v.npy")
    got, channel_axis, _ = read_image(tmp_path / "v.npy", channel_axis=0)
    assert channel_axis == 0 and got.shape == volume.shape
    with pytest.raises(ImageReadError, match="out of range"):
        read_image(tmp_path / "v.npy", channel_axis=4)


def test_npy_counts_pixels_without_the_channels(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((2, 4, 4, 3), np.uint8))
    read_image(tmp_path / "v.npy", max_pixels=32)
    with pytest.raises(ImageTooLargeError):
        read_image(tmp_path / "v.npy", max_pixels=31)


@pytest.mark.parametrize("shape", [(2, 2, 4, 4, 3), (1, 1, 1, 1, 1, 1)])
def test_npy_5d_and_more_refused(tmp_path, shape):
    np.save(tmp_path / "v.npy", np.zeros(shape))
    with pytest.raises(ImageReadError, match=r"2-D or a 3-D volume, plus an optional channel"):
        read_image(tmp_path / "v.npy")


def test_multipage_rgb_tiff_is_a_colour_volume(tmp_path):
    volume = np.random.default_rng(0).integers(0, 255, (3, 8, 9, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "v.tif", volume, photometric="rgb")
    got, channel_axis, _ = read_image(tmp_path / "v.tif")
    assert channel_axis == -1
    np.testing.assert_array_equal(got, volume)


def test_tiff_volume_of_five_channels_with_channel_axis(tmp_path):
    volume = np.random.default_rng(0).integers(0, 255, (3, 8, 9, 5), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "v.tif", volume, photometric="minisblack")
    with pytest.raises(ImageReadError, match=r"reads 2-D images and 3-D volumes.*--channel-axis"):
        read_image(tmp_path / "v.tif")
    got, channel_axis, _ = read_image(tmp_path / "v.tif", channel_axis=-1)
    assert channel_axis == -1
    np.testing.assert_array_equal(got, volume)


def test_label_volume_of_one_slice_reads_back_3d(tmp_path):
    labels = np.zeros((1, 5, 6), int)
    labels[0, :, 3:] = 1
    write_labels(tmp_path / "l.tif", labels)
    got, channel_axis, _ = read_image(tmp_path / "l.tif")
    assert got.shape == (1, 5, 6) and channel_axis is None
    np.testing.assert_array_equal(got, labels + 1)
    # 2-D labels stay a plain 2-D TIFF
    write_labels(tmp_path / "l2.tif", labels[0])
    assert read_image(tmp_path / "l2.tif").image.shape == (5, 6)


def test_float_tiff_with_nan_is_read_as_it_is(tmp_path):
    image = np.ones((4, 5), np.float32)
    image[0, 0] = np.nan
    tifffile.imwrite(tmp_path / "f.tif", image)
    got = read_image(tmp_path / "f.tif").image
    assert np.isnan(got[0, 0]) and np.isfinite(got[1:]).all()

"""Reading images and writing label images: the only module that touches files.

Formats
-------
Read: PNG, JPEG, BMP (and whatever else Pillow opens: GIF, WebP, ...), TIFF
(8-bit, 16-bit and float, single- and multi-page) and NumPy ``.npy``.

- A 2-D array is a grey image. RGB(A) and palette images are colour, returned
  with ``channel_axis=-1``; an alpha channel is dropped, or becomes the mask with
  ``alpha_mask=True`` (alpha > 0 is inside).
- A multi-page TIFF is a 3-D volume ``(pages, rows, columns[, samples])``.
- A ``.npy`` file is taken as it is: 2-D is grey, 3-D is a volume (pass a
  channel axis to :func:`specseg.segment` yourself for a colour array), 4-D is a
  colour volume ``(Z, Y, X, C)`` when its last axis has at most 4 channels (or
  its channel axis is given as ``channel_axis``). Anything else is refused.
- A float image may hold NaN or inf pixels (no data): they are read as they are;
  :func:`specseg.segment` accepts them outside its ``mask`` only, and the
  ``specseg`` command leaves them out of the mask with a warning.
- 16-bit and float values are kept as they are (16-bit colour and grey + alpha
  PNGs are decoded by imagecodecs, as Pillow reduces them to 8 bits); EXIF orientation and the
  TIFF orientation tag are applied so the array matches the image as displayed.
- The size is checked from the file header *before* any pixel is decoded:
  files with more than ``max_pixels`` pixels raise :class:`ImageTooLargeError`.

Label images on disk
--------------------
:func:`write_labels` takes labels as :func:`specseg.segment` returns them
(-1 outside the mask, ``0 .. k-1`` inside) and writes them shifted by one:
**0 is outside the mask and the segments are 1 .. k** in every format, so that
a label image is a valid unsigned image. Data types: ``.tif``/``.tiff`` uint16
(uint32 past 65535 labels; a 3-D volume is written as a multi-page TIFF whose
metadata names its axes ``ZYX``, so that a volume of one slice reads back 3-D),
``.png`` uint8 up to 255 labels, else uint16 (2-D only, at most 65535 labels),
``.npy`` uint16 or uint32 as TIFF.

Every output is written atomically: to a temporary file in the same directory,
renamed over the target only once complete.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import tempfile
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "ImageReadError",
    "ImageTooLargeError",
    "LoadedImage",
    "LABEL_FORMATS",
    "atomic_output",
    "read_image",
    "write_labels",
]

#: File extensions :func:`write_labels` knows, mapped to their format name.
LABEL_FORMATS = {".tif": "tif", ".tiff": "tif", ".png": "png", ".npy": "npy"}

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_NPY_MAGIC = b"\x93NUMPY"


class ImageReadError(ValueError):
    """An image file cannot be read: missing, unreadable, corrupt or unsupported.

    The message names the file and the cause, in one line.
    """


class ImageTooLargeError(ImageReadError):
    """An image has more pixels than allowed; raised before any pixel is decoded."""


class LoadedImage(NamedTuple):
    """What :func:`read_image` returns; unpacks as ``image, channel_axis, mask``.

    Attributes
    ----------
    image : (M, N[, P][, C]) ndarray
        The pixels, in the file's own dtype (uint8, uint16, float32, ...).
    channel_axis : int or None
        -1 for a colour image (channels last), None for grey images and volumes;
        the ``channel_axis`` given to :func:`read_image` for a ``.npy`` array.
    mask : (M, N[, P]) ndarray of bool or None
        From the alpha channel when ``alpha_mask=True``, else None.
    """

    image: np.ndarray
    channel_axis: int | None
    mask: np.ndarray | None


def read_image(path, *, max_pixels=2**28, alpha_mask=False, channel_axis=None):
    """Read an image file into an array, refusing oversized files before decoding.

    Parameters
    ----------
    path : str or os.PathLike
        PNG, JPEG, BMP, TIFF (single- or multi-page) or ``.npy`` file. The format
        is recognised from the file's first bytes, not its name.
    max_pixels : int, optional
        Largest number of pixels (voxels for a volume, not counting channels)
        accepted. Checked from the header, before the pixels are decoded.
    alpha_mask : bool, optional
        Use the alpha channel as the mask (alpha > 0 is inside) instead of
        dropping it. The image must have an alpha channel.
    channel_axis : int, optional
        Axis of the colour channels where the file does not say it: a 3-D or
        4-D ``.npy`` array, or a multi-page TIFF whose samples were stored as
        pages. The image is returned as stored, with this axis. Without it a
        4-D ``.npy`` array is a colour volume only if its last axis has at
        most 4 channels.

    Returns
    -------
    LoadedImage
        ``(image, channel_axis, mask)``, see :class:`LoadedImage`.

    Raises
    ------
    ImageTooLargeError
        The image has more than ``max_pixels`` pixels.
    ImageReadError
        The file is missing, unreadable, truncated, corrupt or of an unsupported
        kind. Any failure of the underlying decoders is turned into this error.

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "rgb.png")
    >>> Image.new("RGB", (5, 4), (255, 0, 0)).save(path)
    >>> image, channel_axis, mask = read_image(path)
    >>> image.shape, image.dtype, channel_axis, mask
    ((4, 5, 3), dtype('uint8'), -1, None)
    """
    path = Path(path)
    if channel_axis is not None and (isinstance(channel_axis, bool)
                                     or not isinstance(channel_axis, numbers.Integral)):
        raise TypeError(f"channel_axis must be an int or None, got {channel_axis!r}.")
    image, channel_axis, alpha = _decode(path, max_pixels, channel_axis)
    mask = None
    if alpha_mask:
        if alpha is None:
            raise ImageReadError(
                f"{path}: has no alpha channel to use as the mask; drop --alpha-mask/alpha_mask "
                "or give a mask file"
            )
        mask = alpha > 0
    return LoadedImage(image, channel_axis, mask)


def _decode(path, max_pixels, channel_axis=None):
    """``(image, channel_axis, alpha)`` of an image file; ``alpha`` is None without one.

    ``channel_axis`` is the caller's channel axis for the formats whose files do
    not name one (``.npy``, TIFF pages of samples); the other readers ignore it.
    """
    if (isinstance(max_pixels, bool) or not isinstance(max_pixels, numbers.Integral)
            or max_pixels < 1):
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}.")
    max_pixels = int(max_pixels)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a directory, not an image file") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot open ({exc.strerror or exc})") from None
    if not magic:
        raise ImageReadError(f"{path}: file is empty")
    if magic.startswith(_NPY_MAGIC):
        reader = _read_npy
    elif magic[:4] in _TIFF_MAGIC:
        reader = _read_tiff
    else:
        reader = _read_pillow
    try:
        if reader is _read_pillow:
            image, channel_axis, alpha = reader(path, max_pixels)
        else:
            image, channel_axis, alpha = reader(path, max_pixels, channel_axis)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(f"{path}: not enough memory to decode this image") from None
    except Exception as exc:  # any decoder failure is a bad file, reported in one line
        raise ImageReadError(f"{path}: cannot decode ({_one_line(exc)})") from exc
    if image.size == 0:
        raise ImageReadError(f"{path}: image is empty (shape {image.shape})")
    return image, channel_axis, alpha


def _one_line(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


#: Files too large to read get a pointer to zarr and the distributed path.
ZARR_HINT_SUFFIXES = (".tif", ".tiff", ".npy")


def _check_pixels(path, shape, max_pixels):
    n_pixels = math.prod(int(s) for s in shape)
    if n_pixels > max_pixels:
        raise ImageTooLargeError(
            f"{path}: image of shape {tuple(int(s) for s in shape)} has {n_pixels} pixels, "
            f"more than the limit of {max_pixels}; raise the limit (--max-pixels / "
            "max_pixels) if you trust this file"
            + (", or, for a volume larger than memory, convert it to zarr and use the "
               "distributed path (specseg segment IN.zarr -o OUT.zarr, "
               "specseg.distributed.segment)" if str(path).endswith(ZARR_HINT_SUFFIXES) else "")
        )


def _split_alpha(image, n_colour):
    """Split ``(..., n_colour + 1)`` into colour and alpha; ``n_colour`` is 1 or 3."""
    colour, alpha = image[..., :n_colour], image[..., n_colour]
    if n_colour == 1:
        colour = colour[..., 0]
    return np.ascontiguousarray(colour), alpha


def _read_npy(path, max_pixels, channel_axis=None):
    with open(path, "rb") as fh:  # the header alone: shape and dtype, no pixel read
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    if dtype.kind not in "biuf":
        raise ImageReadError(
            f"{path}: .npy array has dtype {dtype}; an image must be numeric and real "
            "(bool, integer or float): save e.g. np.abs(array) or array.real"
        )
    axis = _npy_channel_axis(path, shape, channel_axis)
    spatial = [s for i, s in enumerate(shape) if axis is None or i != axis % len(shape)]
    _check_pixels(path, spatial, max_pixels)
    image = np.load(path, allow_pickle=False)
    return np.ascontiguousarray(image), axis, None


#: A 4-D array is taken as a colour volume only if its last axis is this short.
MAX_GUESSED_CHANNELS = 4


def _npy_channel_axis(path, shape, channel_axis):
    """The channel axis of a ``.npy`` array of ``shape``, or None for a grey one.

    2-D is grey and 3-D a grey volume unless ``channel_axis`` is given; 4-D is a
    colour volume along ``channel_axis``, or along its last axis if that has at
    most ``MAX_GUESSED_CHANNELS`` entries. Anything else is refused, naming the fix.
    """
    ndim = len(shape)
    if channel_axis is not None:
        if not -ndim <= channel_axis < ndim:
            raise ImageReadError(
                f"{path}: --channel-axis/channel_axis {channel_axis} is out of range for a "
                f".npy array of shape {shape}"
            )
        if ndim - 1 not in (2, 3):
            raise ImageReadError(
                f"{path}: .npy array has shape {shape}; with channel axis {channel_axis} "
                f"that leaves {ndim - 1} spatial axes, but an image must be 2-D or a 3-D "
                "volume"
            )
        return channel_axis
    if ndim in (2, 3):
        return None
    if ndim == 4 and shape[-1] <= MAX_GUESSED_CHANNELS:
        return -1
    if ndim == 4:
        raise ImageReadError(
            f"{path}: .npy array has shape {shape}; a 4-D image is a colour volume, but "
            f"its last axis has {shape[-1]} entries, more than the {MAX_GUESSED_CHANNELS} "
            "channels taken as colour: name the channel axis (--channel-axis AXIS, "
            "channel_axis=AXIS), or save the array channels last"
        )
    raise ImageReadError(
        f"{path}: .npy array has shape {shape}; an image must be 2-D or a 3-D volume, "
        "plus an optional channel axis (at most 4-D)"
    )


def _read_tiff(path, max_pixels, channel_axis=None):
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise ImageReadError(f"{path}: TIFF has no image data")
        series = tif.series[0]
        axes, shape = series.axes, series.shape
        slices = len(tif.series) > 1 and _slices_of_a_volume(tif.series)
        if slices:  # a stack saved one page at a time: each page is a series
            axes, shape = "Z" + axes, (len(tif.series), *shape)
        elif len(tif.series) > 1:
            _warn_dropped(path, f"{len(tif.series)} images of different shapes or kinds",
                          f"the first (shape {tuple(shape)})")
        channel_axes = [i for i, a in enumerate(axes) if a in "SC" and shape[i] > 1]
        if not channel_axes and channel_axis is not None and len(shape) == 4:
            # samples stored as pages (e.g. a volume of 5 channels): the caller names them
            if not -4 <= channel_axis < 4:
                raise ImageReadError(
                    f"{path}: --channel-axis/channel_axis {channel_axis} is out of range for "
                    f"a TIFF of shape {tuple(shape)}"
                )
            channel_axes = [channel_axis % 4]
            axes = "".join("C" if i == channel_axes[0] else a for i, a in enumerate(axes))
        shaped = tif.is_shaped
        spatial_shape = [s for i, s in enumerate(shape) if i not in channel_axes]
        _check_pixels(path, spatial_shape, max_pixels)
        page = series.keyframe
        tag = page.tags.get(_TIFF_ORIENTATION)
        orientation = int(tag.value) if tag is not None else 1
        palette = page.photometric == tifffile.PHOTOMETRIC.PALETTE
        colormap = page.colormap if palette else None
        extrasamples = tuple(page.extrasamples) if page.extrasamples else ()
        if slices:
            image = np.empty(shape, dtype=series.dtype)
            for z, one in enumerate(tif.series):
                image[z] = one.asarray()
        else:
            image = series.asarray()
    if len(channel_axes) > 1:
        raise ImageReadError(f"{path}: TIFF has axes {axes!r} with several channel axes")
    if channel_axes:
        image = np.moveaxis(image, channel_axes[0], -1)
        keep = [a for i, a in enumerate(axes) if i != channel_axes[0]] + [axes[channel_axes[0]]]
    else:
        keep = list(axes)
    # drop singleton non-image axes (e.g. a 1-page ImageJ hyperstack's T and Z), but
    # keep the Z of a volume of one slice whose tifffile metadata names its axes ZYX
    # (as write_labels writes volumes)
    spatial = "YXZ" if shaped else "YX"
    squeeze = tuple(
        i for i, a in enumerate(keep) if image.shape[i] == 1 and a not in spatial
    )
    image = np.squeeze(image, axis=squeeze) if squeeze else image
    n_channels = image.shape[-1] if channel_axes else 0
    n_spatial = image.ndim - (1 if channel_axes else 0)
    if orientation != 1 and n_spatial in (2, 3):
        # the orientation tag applies to every page's rows and columns
        image = _orient(image, orientation, first_axis=n_spatial - 2)
    if n_spatial not in (2, 3):
        hint = ("; if one axis holds the channels of a colour volume, name it "
                "(--channel-axis AXIS, channel_axis=AXIS)"
                if n_spatial == 4 and not channel_axes else "")
        raise ImageReadError(
            f"{path}: TIFF has shape {shape} (axes {axes!r}); specseg reads 2-D images and "
            f"3-D volumes{hint}"
        )
    if palette and colormap is not None and not channel_axes:
        # colormap is (3, 2**bits) of uint16; index it to get RGB
        image = np.moveaxis(colormap[:, image], 0, -1)
        return image, -1, None
    if channel_axes:
        if axes[channel_axes[0]] == "S" and n_channels in (2, 4) and extrasamples:
            image, alpha = _split_alpha(image, n_channels - 1)
            return image, (-1 if n_channels == 4 else None), alpha
        return image, -1, None
    return np.ascontiguousarray(image), None, None


def _slices_of_a_volume(series):
    """Whether TIFF ``series`` are the slices of one volume: 2-D pages (grey or
    with samples) of one shape, dtype and photometric, one page each, as a stack
    written one page at a time is read (tifffile makes each write a series)."""
    first = series[0]
    return first.axes in ("YX", "YXS") and all(
        len(one.pages) == 1 and one.axes == first.axes and one.shape == first.shape
        and one.dtype == first.dtype
        and one.keyframe.photometric == first.keyframe.photometric
        for one in series
    )


@contextlib.contextmanager
def _pillow_limit():
    """Let our own header check, not Pillow's decompression-bomb guard, decide.

    Pillow refuses images over ``2 * Image.MAX_IMAGE_PIXELS`` in ``open`` (about
    179 Mpx by default), which would override a larger ``max_pixels``.
    """
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _read_pillow(path, max_pixels):
    from PIL import Image, ImageOps, UnidentifiedImageError

    with _pillow_limit():
        try:
            im = Image.open(path)  # lazy: reads the header only
        except UnidentifiedImageError:
            raise ImageReadError(
                f"{path}: not a recognised image file (PNG, JPEG, BMP, TIFF or .npy)"
            ) from None
        with im:
            width, height = im.size
            _check_pixels(path, (height, width), max_pixels)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                _warn_dropped(path, f"{frames} frames", "the first")
            if im.format == "PNG" and _is_png16_colour(path):
                # Pillow reduces 16-bit colour and grey+alpha PNGs to 8 bits (grey+alpha
                # to RGBA); decode them ourselves
                orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
                image = _orient(_read_png16_colour(path), orientation)
                if image.shape[-1] == 2:
                    image, alpha = _split_alpha(image, 1)
                    return image, None, alpha
                if image.shape[-1] == 4:
                    image, alpha = _split_alpha(image, 3)
                    return image, -1, alpha
                return image, -1, None
            im.load()
            im = ImageOps.exif_transpose(im)
            return _pillow_to_array(im)


def _warn_dropped(path, what, kept):
    warnings.warn(
        f"{path}: holds {what}; only {kept} is read. For a volume, save the slices "
        "(all of one shape) as a multi-page TIFF or a 3-D .npy.",
        UserWarning, stacklevel=5,
    )


_EXIF_ORIENTATION = 0x0112
#: The TIFF Orientation tag (the same number and values as EXIF's).
_TIFF_ORIENTATION = 274


def _orient(image, orientation, first_axis=0):
    """Apply an EXIF/TIFF orientation (1-8) to the row and column axes ``first_axis``
    and ``first_axis + 1`` of an array, as Pillow's exif_transpose does."""
    if orientation in (5, 6, 7, 8):
        image = np.swapaxes(image, first_axis, first_axis + 1)  # transpose first, then flip
    flips = {2: (1,), 3: (0, 1), 4: (0,), 6: (1,), 7: (0, 1), 8: (0,)}.get(orientation, ())
    for axis in flips:
        image = np.flip(image, axis=first_axis + axis)
    return np.ascontiguousarray(image)


def _is_png16_colour(path):
    with open(path, "rb") as fh:
        head = fh.read(29)
    # IHDR is the first chunk: width, height, bit depth, colour type, ..., interlace;
    # colour types 2 RGB, 4 grey + alpha, 6 RGBA
    return (len(head) == 29 and head[12:16] == b"IHDR" and head[24] == 16
            and head[25] in (2, 4, 6) and head[28] == 0)


def _read_png16_colour(path):
    """Decode a 16-bit RGB, RGBA or grey + alpha PNG to (M, N, 3|4|2) uint16 with
    imagecodecs (libpng)."""
    import imagecodecs

    image = imagecodecs.png_decode(Path(path).read_bytes())
    if image.dtype != np.uint16 or image.ndim != 3 or image.shape[-1] not in (2, 3, 4):
        raise ImageReadError(f"{path}: PNG decoded to {image.dtype} {image.shape}, "
                             "not 16-bit colour")
    return image


def _pillow_to_array(im):
    mode = im.mode
    if mode == "P":
        mode_to = "RGBA" if "transparency" in im.info else "RGB"
        im = im.convert(mode_to)
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("La",):
        im = im.convert("LA")
    elif mode in ("RGBa",):
        im = im.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA", "I", "F") and not mode.startswith("I;16"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
    array = np.asarray(im)
    if im.mode == "LA":
        image, alpha = _split_alpha(array, 1)
        return image, None, alpha
    if im.mode == "RGBA":
        image, alpha = _split_alpha(array, 3)
        return image, -1, alpha
    if im.mode == "RGB":
        return np.ascontiguousarray(array), -1, None
    return np.ascontiguousarray(array), None, None


@contextlib.contextmanager
def atomic_output(path, *, overwrite=False):
    """Context manager yielding a temporary path that replaces ``path`` on success.

    The temporary file lives in the target's directory (so the final
    :func:`os.replace` is atomic and never leaves a half-written ``path``) and
    keeps the target's extension (so writers that choose a format by name work).
    On an error inside the block the temporary file is removed.

    Raises
    ------
    IsADirectoryError
        ``path`` is a directory (never replaced).
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory; give a file name")
    if not overwrite and path.exists():
        raise FileExistsError(
            f"{path}: already exists; pass --overwrite (overwrite=True) to replace it"
        )
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"{path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def label_format(path):
    """The label format (``"tif"``, ``"png"`` or ``"npy"``) for ``path``'s extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in LABEL_FORMATS:
        valid = ", ".join(LABEL_FORMATS)
        raise ValueError(
            f"{path}: cannot tell the label format from the extension {suffix!r}; "
            f"use one of {valid}"
        )
    return LABEL_FORMATS[suffix]


def write_labels(path, labels, *, overwrite=False):
    """Write labels as a label image, 0 outside the mask and segments 1 .. k.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; the extension picks the format: ``.tif``/``.tiff``
        (uint16, uint32 past 65535 labels; 3-D volumes as multi-page TIFF),
        ``.png`` (uint8, or uint16 past 255 labels; 2-D only) or ``.npy``
        (uint16 or uint32).
    labels : (M, N[, P]) array_like of int
        Labels as :func:`specseg.segment` returns them: -1 outside the mask,
        ``0 .. k-1`` inside. They are written **plus one**.
    overwrite : bool, optional
        Replace an existing file. Without it an existing ``path`` is an error.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ValueError
        Unknown extension, labels that are not integers >= -1, a volume for PNG,
        or more labels than the format holds.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.npy")
    >>> _ = write_labels(path, np.array([[-1, 0], [1, 1]]))
    >>> np.load(path)
    array([[0, 1],
           [2, 2]], dtype=uint16)
    """
    path = Path(path)
    fmt = label_format(path)
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biu":
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}.")
    if labels.ndim not in (2, 3) or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 2-D or 3-D array, got shape {labels.shape}.")
    low, high = int(labels.min()), int(labels.max())
    if low < -1:
        raise ValueError(
            f"labels must be >= -1 (-1 marks pixels outside the mask), got minimum {low}."
        )
    top = high + 1  # the largest value on disk
    if top > np.iinfo(np.uint32).max:
        raise ValueError(f"{top} labels do not fit in uint32.")
    if fmt == "png":
        if labels.ndim != 2:
            raise ValueError(
                f"{path}: PNG holds 2-D images but labels have shape {labels.shape}; "
                "write a volume as .tif (multi-page) or .npy"
            )
        if top > np.iinfo(np.uint16).max:
            raise ValueError(f"{path}: {top} labels do not fit in a 16-bit PNG; use .tif or .npy")
        dtype = np.uint8 if top <= np.iinfo(np.uint8).max else np.uint16
    else:
        dtype = np.uint16 if top <= np.iinfo(np.uint16).max else np.uint32
    on_disk = (labels.astype(np.int64) + 1).astype(dtype)
    with atomic_output(path, overwrite=overwrite) as tmp:
        if fmt == "npy":
            with open(tmp, "wb") as fh:
                np.save(fh, on_disk, allow_pickle=False)
        elif fmt == "png":
            from PIL import Image

            Image.fromarray(on_disk).save(tmp, format="PNG")
        else:
            import tifffile

            # a volume's axes are recorded, so that one of a single slice reads back 3-D
            metadata = {"axes": "ZYX"} if on_disk.ndim == 3 else None
            tifffile.imwrite(tmp, on_disk, photometric="minisblack", compression="zlib",
                             metadata=metadata)
    return path

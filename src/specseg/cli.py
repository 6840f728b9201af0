"""The ``specseg`` command: a thin shell over :func:`specseg.segment` and :mod:`specseg.io`."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import click

from . import __version__
from ._assign import ASSIGN_METHODS
from ._embedding import SOLVERS
from ._segment import AUTO_THRESHOLD, MODES

#: Stages reported by ``segment(progress=...)`` in each mode, in order.
STAGES_BY_MODE = {
    "pixels": ("graph", "embedding", "assignment", "refinement"),
    "regions": ("graph", "embedding", "assignment", "refinement", "merging", "boundaries"),
    "contours": ("hierarchy", "cut"),
}
STAGES = STAGES_BY_MODE["pixels"]
#: Exit status: all inputs segmented, some input failed, usage error (click's own).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Extensions of the --ucm contour map (16-bit PNG or TIFF).
UCM_SUFFIXES = (".png", ".tif", ".tiff")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="specseg")
def main():
    """Segment images by spectral clustering (normalized cuts).

    Run "specseg COMMAND --help" for the options of a command.
    """


@main.command()
@click.option("--size", default=100, show_default=True, type=click.IntRange(min=8),
              help="Side of the four-circles image in pixels.")
@click.option("--output", "-o", default="specseg-demo.png", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the two-panel PNG figure.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Random seed for the noise and the solver.")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing output file (an earlier demo's figure is replaced anyway).")
def demo(size, output, seed, overwrite):
    """Run the seed example (four noisy circles) and save its figure."""
    from ._segment import segment
    from .datasets import four_circles
    from .io import atomic_output
    from .metrics import adjusted_rand_score
    from .plot import figure

    output = Path(output)
    fmt = _figure_format(output)
    # a figure an earlier demo wrote is replaced; anything else only with --overwrite
    overwrite = overwrite or _written_by_demo(output)
    _check_new_output(output, overwrite)  # before any work
    image, mask, truth = four_circles(size, random_state=seed)
    start = time.perf_counter()
    labels = segment(image, 4, mask=mask, random_state=seed)
    elapsed = time.perf_counter() - start
    score = adjusted_rand_score(truth[mask], labels[mask])
    fig = figure(image, labels)
    try:
        with atomic_output(output, overwrite=overwrite) as tmp:
            fig.savefig(tmp, dpi=100, format=fmt,
                        metadata={"Software": DEMO_TAG} if fmt == "png" else None)
    except (FileExistsError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"four circles {size}x{size}: segmented in {elapsed:.3f} s, "
               f"ARI against truth {score:.3f}")
    click.echo(f"figure written to {output}")


#: The PNG "Software" text of the demo's figures: a rerun may replace them.
DEMO_TAG = "specseg demo"


def _written_by_demo(path):
    """Whether ``path`` is a PNG figure that ``specseg demo`` wrote (its tag)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return False
    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get("Software") == DEMO_TAG
    except (OSError, UnidentifiedImageError):
        return False


def _figure_format(path):
    """The matplotlib format for ``path``'s extension (PNG without one); exit 2 if unknown."""
    from matplotlib.backend_bases import FigureCanvasBase

    fmt = path.suffix.lower().lstrip(".") or "png"
    known = FigureCanvasBase.get_supported_filetypes()
    if fmt not in known:
        listed = ", ".join(f".{name}" for name in sorted(known))
        raise click.BadParameter(
            f"{path}: cannot write a figure as {path.suffix!r}; use .png or another of "
            f"{listed}.", param_hint="'-o' / '--output'")
    return fmt


def _check_new_output(path, overwrite):
    """Refuse (exit 1) an existing ``path`` without ``overwrite``, or a missing directory."""
    if not overwrite and path.exists():
        raise click.ClickException(f"{path}: already exists; pass --overwrite to replace it, "
                                   "or -o another file")
    directory = path.parent
    if not directory.is_dir():
        raise click.ClickException(f"{path}: directory {directory} does not exist")


class _Segments(click.ParamType):
    """A number of segments (int >= 1), or "auto" (chosen by segment())."""

    name = "N"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif str(value).strip().lower() == "auto":
            return "auto"
        else:
            try:
                number = int(value)
            except ValueError:
                self.fail(f"{value!r} is not a whole number of segments (e.g. -k 8).", param, ctx)
        if number < 1:
            self.fail(f"must be at least 1, got {number}.", param, ctx)
        return number


class _ChannelAxis(click.ParamType):
    """An axis index, or "none" for an image without a channel axis."""

    name = "AXIS"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int):
            return value
        if str(value).strip().lower() == "none":
            return "none"
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is not an axis number or 'none'.", param, ctx)


class _Spacing(click.ParamType):
    """Voxel spacing: one positive number for every axis, or one per axis, comma-separated."""

    name = "Z,Y,X"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            values = tuple(float(v) for v in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not a number or numbers separated by commas "
                      "(e.g. --spacing 5,1,1).", param, ctx)
        if not all(math.isfinite(v) and v > 0 for v in values):
            self.fail(f"{value!r}: spacings must be positive and finite.", param, ctx)
        return values[0] if len(values) == 1 else values


_SEGMENT_HELP = """Segment image files; write label images, overlays and reports.

\b
  specseg segment photo.png -k 8 -o photo.labels.tif --overlay photo.overlay.png
  specseg segment *.tif -k 5 --out-dir labels/ --format png
  specseg segment scan.tif -k 3 --mask roi.png -o scan.labels.tif --report scan.json

INPUT files are PNG, JPEG, BMP, TIFF (8/16-bit, float; multi-page = 3-D volume) or
.npy files. RGB(A) and palette images are colour (channel axis -1); the alpha
channel is dropped, or used as the mask with --alpha-mask. EXIF orientation is
applied, so labels match the image as displayed. A multi-page RGB TIFF or a 4-D
.npy (Z, Y, X, C) of at most 4 channels is a colour volume (3-D labels).
NaN or inf pixels of a float image (no data) are left out of the mask
(labelled 0), with a warning.

\b
A zarr store (IN.zarr, or the first level of an OME-Zarr image) larger than
memory is segmented block by block on Dask and its labels written chunk by chunk:
  specseg segment IN.zarr -k 8 -o OUT.zarr --workers 2 --worker-memory 2GiB
  specseg segment IN.zarr -k 8 -o OUT.zarr --scheduler tcp://host:8786
It takes -k, -o OUT.zarr, --beta, --spacing, --solver, --assign, --seed, --overwrite,
--chunks and the cluster options; the other options are refused.

\b
Label values on disk: 0 is outside the mask, segments are 1..k, in every
format (the library's labels are -1 outside and 0..k-1 inside, plus one).
  .tif/.tiff  uint16 (uint32 past 65535 labels); volumes as multi-page TIFF
  .png        uint8, or uint16 past 255 labels (2-D only)
  .npy        uint16 (uint32 past 65535 labels)

With several INPUTS, use --out-dir (DIR/<stem>.labels.tif) and put {stem} in
the --overlay/--figure/--report paths, e.g. --overlay 'out/{stem}.png'.
Outputs are written atomically and never overwrite a file unless --overwrite;
an output equal to an input is always refused.

\b
Exit status: 0 all inputs segmented, 1 some input failed (the others are
still processed), 2 usage error. Each failure is one line on stderr.
"""


@main.command(help=_SEGMENT_HELP, no_args_is_help=True)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT [INPUT ...]",
                type=click.Path(dir_okay=True, path_type=Path))
@click.option("-k", "--segments", "n_segments", type=_Segments(), default=8, show_default=True,
              help="Number of segments, or 'auto': in the contours mode the hierarchy "
                   f"cut at {AUTO_THRESHOLD} (see --threshold), in the others k from the "
                   "eigengap.")
@click.option("-o", "--output", type=click.Path(path_type=Path),  # a .zarr store is a directory
              help="Label image for a single INPUT; the format follows the extension "
                   "(.tif, .tiff, .png, .npy).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for label images, one DIR/<stem>.labels.<format> per INPUT "
                   "(created if missing).")
@click.option("--format", "fmt", type=click.Choice(["tif", "png", "npy"]), default=None,
              help="Label format with --out-dir.  [default: tif]")
@click.option("--overlay", type=click.Path(dir_okay=False),
              help="PNG of the image with the segment boundaries (middle slice of a volume).")
@click.option("--figure", type=click.Path(dir_okay=False),
              help="PNG of the two-panel figure: image and labels (middle slice of a volume).")
@click.option("--report", type=click.Path(dir_okay=False),
              help="JSON report: input, shape, segments, solver, seconds per stage, "
                   "normalized cut, eigenvalues, versions.")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Mask image of the same shape: nonzero pixels are segmented, the rest "
                   "is labelled 0. Transparent pixels are outside; a mask that is black "
                   "wherever it is opaque is its alpha channel.")
@click.option("--alpha-mask", is_flag=True,
              help="Use the image's alpha channel as the mask (alpha > 0 is inside).")
@click.option("--channel-axis", type=_ChannelAxis(), default=None,
              help="Axis of the colour channels, or 'none', where the default is wrong "
                   "(e.g. a colour .npy: --channel-axis -1; a channels-first volume: "
                   "--channel-axis 0).  [default: -1 for RGB(A) and palette images and "
                   "4-D .npy arrays of at most 4 channels last, none otherwise]")
@click.option("--mode", type=click.Choice(MODES), default="auto", show_default=True,
              help="Graph over 'pixels', superpixel 'regions' or the 'contours' hierarchy; "
                   "'auto' uses contours for clean 2-D photographs, regions for noisy "
                   "frames and volumes, and pixels for small images and for masks over "
                   "flat intensities (the seed example).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Cut the contour hierarchy at this level (0..1; higher gives fewer "
                   "segments); implies --mode contours and -k auto.  [default with -k auto "
                   f"in contours mode: {AUTO_THRESHOLD}]")
@click.option("--ucm", type=click.Path(dir_okay=False),
              help="16-bit PNG/TIFF of the ultrametric contour map (contour strength "
                   "x 65535; implies --mode contours; 2-D only).")
@click.option("--beta", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Sharpness of the intensity similarity kernel.  [default: 1 for pixels, "
                   "4 for regions]")
@click.option("--spacing", type=_Spacing(), default=None,
              help="Voxel (pixel) size per axis, e.g. 5,1,1 for slices five times as far "
                   "apart as the pixels within one; only the ratios matter (not used by the "
                   "contours mode).  [default: 1 on every axis]")
@click.option("--solver", type=click.Choice(SOLVERS), default="auto", show_default=True,
              help="Eigensolver.")
@click.option("--assign", type=click.Choice(ASSIGN_METHODS), default="cluster_qr",
              show_default=True,
              help="Label assignment method.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed; the same seed gives the same labels.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=2**28, show_default=True,
              help="Refuse images with more pixels, checked before decoding.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--chunks", type=click.IntRange(min=16), default=None,
              help="Block side for a .zarr input (the distributed path).  [default: the "
                   "store's chunks, or 128]")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Dask scheduler to run a .zarr input on (e.g. tcp://host:8786).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Start a local Dask cluster of N single-threaded workers for a .zarr input.")
@click.option("--worker-memory", metavar="SIZE", default=None,
              help="Memory limit per local worker, e.g. 2GiB (with --workers).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bar and no per-file lines; errors and warnings still print. "
                   "(The progress bar shows only when stderr is a terminal.)")
@click.option("-v", "--verbose", is_flag=True, help="Print the seconds taken by each stage.")
@click.option("--debug", is_flag=True, help="Print a traceback for each failure.")
@click.pass_context
def segment(ctx, inputs, n_segments, output, out_dir, fmt, overlay, figure, report, mask_path,
            alpha_mask, channel_axis, mode, threshold, ucm, beta, spacing, solver, assign, seed,
            max_pixels, overwrite, chunks, scheduler, workers, worker_memory, quiet, verbose,
            debug):
    from ._cli_zarr import check_options

    for name, value in (("--beta", beta), ("--threshold", threshold)):
        if value is not None and not math.isfinite(value):  # FloatRange lets NaN through
            raise click.BadParameter(f"{value} is not a finite number.", param_hint=f"'{name}'")
    if not (verbose or debug):
        ctx.with_resource(_third_party_silenced())
    given = [f"--{name.replace('_', '-')}" for name in _IN_MEMORY_ONLY
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if check_options(inputs, output, scheduler=scheduler, workers=workers,
                     worker_memory=worker_memory, chunks=chunks, in_memory_only=given):
        ctx.exit(_segment_zarr(inputs[0], output, n_segments=n_segments, chunks=chunks,
                               scheduler=scheduler, workers=workers, worker_memory=worker_memory,
                               beta=4.0 if beta is None else beta, spacing=spacing,
                               solver=solver, assign=assign,
                               seed=seed, overwrite=overwrite, quiet=quiet, verbose=verbose,
                               debug=debug))
    if threshold is not None or ucm is not None:
        if mode not in ("auto", "contours"):
            raise click.UsageError(
                f"--threshold and --ucm use the contour hierarchy; drop --mode {mode} "
                "or pass --mode contours."
            )
        mode = "contours"
    if threshold is not None:
        source = ctx.get_parameter_source("n_segments")
        if source is click.core.ParameterSource.DEFAULT:
            n_segments = "auto"
        elif n_segments != "auto":
            raise click.UsageError(
                f"-k {n_segments} and --threshold {threshold} both choose the level; "
                "give one of them."
            )
    plans = _plan_outputs(inputs, output=output, out_dir=out_dir, fmt=fmt, overlay=overlay,
                          figure=figure, report=report, mask_path=mask_path, ucm=ucm)
    mask = _read_mask(mask_path, max_pixels) if mask_path is not None else None
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"cannot create {out_dir}: {exc.strerror or exc}",
                                     param_hint="'--out-dir'") from None
    options = dict(n_segments=n_segments, channel_axis=channel_axis, mode=mode,
                   threshold=threshold, beta=beta, spacing=spacing,
                   solver=solver,
                   assign=assign, seed=seed, max_pixels=max_pixels, overwrite=overwrite,
                   quiet=quiet, verbose=verbose, alpha_mask=alpha_mask, mask=mask,
                   mask_path=mask_path)
    failed = 0
    for number, (path, outputs) in enumerate(plans.items(), start=1):
        label = f"[{number}/{len(plans)}] {path.name}" if len(plans) > 1 else path.name
        try:
            _segment_one(path, outputs, label=label, **options)
        except Exception as exc:
            failed += 1
            click.echo(f"specseg: error: {_error_line(path, exc)}", err=True)
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
    done = len(plans) - failed
    if not quiet or failed:
        word = "image" if len(plans) == 1 else "images"
        summary = f"specseg: {done} of {len(plans)} {word} segmented"
        summary += f", {failed} failed" if failed else ""
        click.echo(summary, err=bool(failed))
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


#: Options of the in-memory path that the zarr (distributed) path has no use for:
#: refused there rather than ignored (parameter names; the flag is --name-with-dashes).
_IN_MEMORY_ONLY = ("out_dir", "fmt", "overlay", "figure", "report", "mask_path", "alpha_mask",
                   "channel_axis", "mode", "threshold", "ucm", "max_pixels")


#: Libraries whose log lines (tifffile's "missing data offset tag", ...) show only
#: with -v/--debug, so that a failure stays one line of ours.
_QUIET_LOGGERS = ("tifffile", "imagecodecs", "PIL", "distributed", "zarr", "numcodecs")


@contextlib.contextmanager
def _third_party_silenced():
    """Hide other libraries' log lines and warnings while the command runs.

    specseg's own warnings still print (``_segment_one`` records them).
    """
    import logging

    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _segment_zarr(path, output, *, debug, quiet, **options):
    """The distributed path for one zarr store; returns the exit status."""
    from ._cli_zarr import segment_store

    try:
        line = segment_store(path, output, quiet=quiet, **options)
    except Exception as exc:
        click.echo(f"specseg: error: {_error_line(path, exc)}", err=True)
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        return EXIT_FAILED
    if not quiet:
        click.echo(line)
    return EXIT_OK


def _error_line(path, exc):
    from .io import ImageReadError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ImageReadError) and text.startswith(str(path)):
        return text
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError) and exc.filename:
        text = f"{exc.filename}: {exc.strerror}"
    return f"{path}: {text}"


def _plan_outputs(inputs, *, output, out_dir, fmt, overlay, figure, report, mask_path,
                  ucm=None):
    """Work out every output path up front; refuse impossible combinations (exit 2)."""
    from .io import label_format

    several = len(inputs) > 1
    if output is not None and out_dir is not None:
        raise click.UsageError("give either -o/--output or --out-dir, not both.")
    if output is not None and several:
        raise click.UsageError(
            f"-o/--output names one file but {len(inputs)} inputs were given; "
            "use --out-dir DIR for several inputs."
        )
    if fmt is not None and out_dir is None:
        raise click.UsageError("--format goes with --out-dir; with -o the extension sets it.")
    if output is not None:
        try:
            label_format(output)
        except ValueError:
            raise click.BadParameter(
                f"{output}: unknown label format {output.suffix!r}; use .tif, .tiff, .png "
                "or .npy.", param_hint="'-o' / '--output'") from None
    if ucm and Path(ucm).suffix.lower() not in UCM_SUFFIXES:
        raise click.BadParameter(f"{ucm}: write the contour map as .png, .tif or .tiff.",
                                 param_hint="'--ucm'")
    if output is None and out_dir is None and not (overlay or figure or report or ucm):
        raise click.UsageError(
            "nothing to write: give -o/--output FILE (one input) or --out-dir DIR, "
            "and/or --overlay, --figure, --report."
        )
    for name, template in (("--overlay", overlay), ("--figure", figure), ("--report", report),
                           ("--ucm", ucm)):
        if template and several and "{stem}" not in template:
            raise click.UsageError(
                f"{name} {template!r} would be the same file for all {len(inputs)} inputs; "
                f"put {{stem}} in it, e.g. {name} 'out/{{stem}}{Path(template).suffix}'."
            )
    plans = {}
    for path in inputs:
        stem = path.stem
        outputs = {}
        if output is not None:
            outputs["labels"] = output
        elif out_dir is not None:
            outputs["labels"] = out_dir / f"{stem}.labels.{fmt or 'tif'}"
        for kind, template in (("overlay", overlay), ("figure", figure), ("report", report),
                               ("ucm", ucm)):
            if template:
                outputs[kind] = Path(template.replace("{stem}", stem))
        if path in plans:
            raise click.UsageError(f"{path} is given twice.")
        plans[path] = outputs
    _check_output_clashes(plans, mask_path)
    return plans


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check_output_clashes(plans, mask_path):
    reads = list(plans) + ([mask_path] if mask_path is not None else [])
    seen = {}
    for path, outputs in plans.items():
        for kind, out in outputs.items():
            for source in reads:
                if _same_file(out, source):
                    raise click.UsageError(
                        f"the {kind} output {out} is the input {source}; "
                        "choose another output path (inputs are never overwritten)."
                    )
            key = os.path.realpath(out)
            if key in seen:
                fix = (f"both names have the stem {path.stem!r}: rename one, or segment "
                       "them in separate runs" if seen[key].stem == path.stem
                       else "rename one input or use {stem} in the output paths")
                raise click.UsageError(f"{seen[key]} and {path} would both write {out}; {fix}.")
            seen[key] = path


def _read_mask(mask_path, max_pixels):
    """The mask file as booleans: nonzero pixels are inside, transparent ones and
    NaN (no data) outside.

    A mask drawn in black on a transparent background (zero wherever it is opaque)
    is its alpha channel.
    """
    import numpy as np

    from .io import ImageReadError, _decode

    try:
        mask, channel_axis, alpha = _decode(Path(mask_path), max_pixels)
    except ImageReadError as exc:
        raise click.BadParameter(str(exc), param_hint="'--mask'") from None
    if _is_jpeg(mask_path) and np.any((mask > 0) & (mask < mask.max())):
        click.echo(f"specseg: warning: {mask_path}: a JPEG mask has compression noise: "
                   "pixels near its edges that should be 0 are not, and count as inside; "
                   "save masks as PNG or TIFF.", err=True)
    if mask.dtype.kind == "f":
        mask = np.nan_to_num(mask, nan=0.0)  # NaN (no data) is outside; inf is inside
    if channel_axis is not None:
        mask = mask.any(axis=channel_axis)
    mask = mask != 0
    if alpha is not None:
        opaque = alpha > 0
        mask &= opaque
        if not mask.any():
            mask = opaque
    return mask


def _is_jpeg(path):
    with open(path, "rb") as fh:
        return fh.read(3) == b"\xff\xd8\xff"


def _segment_one(path, outputs, *, label, n_segments, channel_axis, mode, threshold, beta,
                 spacing, solver, assign, seed, max_pixels, overwrite, quiet, verbose, alpha_mask,
                 mask, mask_path):
    import numpy as np

    from ._segment import segment
    from .io import read_image

    for out in outputs.values():  # before any work, so that no output is left half-done
        if out.is_dir():
            raise IsADirectoryError(f"{out}: is a directory; give a file name")
        if not overwrite and out.exists():
            raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
        if not out.parent.is_dir():
            raise FileNotFoundError(f"{out}: directory {out.parent} does not exist")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image, found_axis, alpha = read_image(
            path, max_pixels=max_pixels, alpha_mask=alpha_mask,
            channel_axis=channel_axis if isinstance(channel_axis, int) else None)
    # read_image's own warnings name the file; the decoders' go to the usual filters
    # (hidden without -v)
    own = [warning for warning in caught if str(warning.message).startswith(f"{path}: ")]
    for warning in caught:
        if warning not in own:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    _echo_warnings(path, own)
    seconds = {"read": time.perf_counter() - start}
    if channel_axis == "none":
        if image.ndim > 3:
            raise ValueError(
                f"--channel-axis none leaves an image of shape {image.shape}, which has "
                f"{image.ndim} axes; specseg segments 2-D images and 3-D volumes: drop "
                "--channel-axis none, or name the channel axis"
            )
        found_axis = None
    elif channel_axis is not None and found_axis is None:  # the reader did not place it
        found_axis = channel_axis
    if found_axis is not None:
        if not -image.ndim <= found_axis < image.ndim:
            raise ValueError(
                f"--channel-axis {found_axis} is out of range for an image of shape {image.shape}"
            )
        image = np.moveaxis(image, found_axis, -1)
        found_axis = -1
    spatial_shape = image.shape[:-1] if found_axis is not None else image.shape
    if mask is not None and mask.shape != spatial_shape:
        raise ValueError(
            f"mask {mask_path} has shape {mask.shape} but the image's spatial shape is "
            f"{spatial_shape}; give a mask of the same size"
        )
    if alpha is not None and mask is not None:
        region = alpha & mask
    else:
        region = alpha if alpha is not None else mask
    image, region = _leave_out_no_data(path, image, region, found_axis)

    with _ProgressBar(label, quiet) as progress, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels, info = segment(image, n_segments, mask=region, channel_axis=found_axis,
                               mode=mode, beta=beta, spacing=spacing, solver=solver,
                               assign=assign, random_state=seed, progress=progress,
                               return_info=True, threshold=threshold)
    _echo_warnings(path, caught)
    seconds.update(info["timings"])

    start = time.perf_counter()
    _write_outputs(outputs, image, labels, overwrite=overwrite,
                   hierarchy=info.get("hierarchy"))
    seconds["write"] = time.perf_counter() - start
    seconds["total"] = sum(seconds.values())
    if "report" in outputs:
        _write_report(outputs, path, image, found_axis, labels, info, seconds,
                      mask_path=mask_path, alpha_mask=alpha_mask, beta=beta, seed=seed,
                      overwrite=overwrite)
    if not quiet:
        written = ", ".join(str(out) for out in outputs.values())
        n_pixels = labels.size if region is None else int(np.count_nonzero(region))
        nodes = "" if info["mode"] == "pixels" else f" ({info['n_nodes']} regions)"
        if info.get("threshold") is not None:
            nodes += f" at threshold {info['threshold']:g}"
        segments = _count(info["n_segments"], "segment")
        click.echo(f"{path}: {segments} of {n_pixels} pixels{nodes} in "
                   f"{seconds['total']:.2f} s -> {written}")
    if verbose:
        stages = ", ".join(f"{name} {value:.3f} s" for name, value in seconds.items())
        click.echo(f"{path}: {stages}", err=True)


def _leave_out_no_data(path, image, region, channel_axis):
    """NaN or inf pixels (no data) left out of ``region``, with a warning line.

    A raster's no-data pixels have no other meaning, so the command does what the
    library asks for (``mask=np.isfinite(image)``) instead of refusing; the
    image returned has them filled (see ``fill_no_data``) so that the overlay
    and figure are finite too. Returns ``(image, region)``.
    """
    import numpy as np

    from ._validation import fill_no_data

    if image.dtype.kind != "f":
        return image, region
    valid = np.isfinite(image)
    if channel_axis is not None:
        valid = valid.all(axis=channel_axis)
    if valid.all():
        return image, region
    n_bad = valid.size - int(np.count_nonzero(valid))
    inside = valid if region is None else region & valid
    if not inside.any():
        where = "" if region is None else " inside the mask"
        raise ValueError(f"every pixel{where} is NaN or inf (no data); nothing to segment")
    click.echo(f"specseg: warning: {path}: {n_bad} of {valid.size} pixels are NaN or inf "
               "(no data): left out of the mask, labelled 0", err=True)
    return fill_no_data(image, inside, channel_axis), inside


def _echo_warnings(path, caught):
    """Each recorded warning as one line on stderr, naming the input once."""
    for warning in caught:
        text = " ".join(str(warning.message).split())
        text = text[len(f"{path}: "):] if text.startswith(f"{path}: ") else text
        click.echo(f"specseg: warning: {path}: {text}", err=True)


def _count(n, noun):
    """``n`` and ``noun``, plural unless ``n`` is 1.

    >>> _count(1, "segment"), _count(3, "segment")
    ('1 segment', '3 segments')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class _ProgressBar:
    """A tqdm bar on stderr advanced by ``segment``'s progress callback."""

    def __init__(self, label, quiet):
        self.label, self.quiet = label, quiet

    def __enter__(self):
        from tqdm import tqdm

        # the pixel mode's count until a stage names another mode ("auto" resolves
        # inside segment)
        self.bar = tqdm(total=len(STAGES), desc=self.label, unit="stage", file=sys.stderr,
                        disable=True if self.quiet else None, leave=False, dynamic_ncols=True,
                        bar_format="{desc}: {bar:12} {n_fmt}/{total_fmt} [{elapsed}]{postfix}")
        return self

    def __call__(self, stage, fraction):
        for mode in ("contours", "regions"):
            if stage in STAGES_BY_MODE[mode] and stage not in STAGES:
                self.bar.total = len(STAGES_BY_MODE[mode])
        if fraction == 0.0:
            self.bar.set_postfix_str(stage)
        elif fraction >= 1.0 and self.bar.n < self.bar.total:
            self.bar.update(1)

    def __exit__(self, *exc):
        self.bar.close()
        return False


def _middle_slice(image, labels):
    """A 2-D (image, labels) pair to draw: the middle slice of a volume."""
    import numpy as np

    if labels.ndim == 3:
        middle = labels.shape[0] // 2
        image, labels = image[middle], labels[middle]
    if image.ndim == 3 and image.shape[-1] not in (3, 4):
        image = image.mean(axis=-1)  # 2 or 5+ channels: show their mean
    return np.asarray(image), labels


def _write_outputs(outputs, image, labels, *, overwrite, hierarchy=None):
    import numpy as np

    from .io import atomic_output, write_labels

    if "labels" in outputs:
        write_labels(outputs["labels"], labels, overwrite=overwrite)
    if "ucm" in outputs:
        _write_ucm(outputs["ucm"], hierarchy, labels.shape, overwrite=overwrite)
    if "overlay" in outputs or "figure" in outputs:
        picture, picture_labels = _middle_slice(image, labels)
    if "overlay" in outputs:
        from PIL import Image

        from .plot import overlay

        rgb = overlay(picture, picture_labels)
        pixels = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        with atomic_output(outputs["overlay"], overwrite=overwrite) as tmp:
            Image.fromarray(pixels).save(tmp, format="PNG")
    if "figure" in outputs:
        import matplotlib

        matplotlib.use("Agg")  # the command never opens a window
        import matplotlib.pyplot as plt

        from .plot import figure

        fig = figure(picture, picture_labels)
        try:
            with atomic_output(outputs["figure"], overwrite=overwrite) as tmp:
                fig.savefig(tmp, dpi=100, format="png")
        finally:
            plt.close(fig)


def _write_ucm(path, hierarchy, shape, *, overwrite):
    """The ultrametric contour map as a 16-bit image (strength x 65535) of ``shape``.

    A frame segmented averaged over blocks (above ``CONTOURS_MAX_PIXELS``)
    has a smaller hierarchy; its map is spread back to the image's shape
    (:func:`specseg._segment.contour_map`).
    """
    import numpy as np

    from ._segment import contour_map
    from .io import atomic_output

    if hierarchy is None:  # pragma: no cover - the command forces the contours mode
        raise ValueError("--ucm needs the contours mode")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in UCM_SUFFIXES:
        raise ValueError(f"--ucm {path}: write the contour map as .png, .tif or .tiff")
    ucm = np.round(np.clip(contour_map(hierarchy, shape), 0, 1) * 65535).astype(np.uint16)
    with atomic_output(path, overwrite=overwrite) as tmp:
        if suffix == ".png":
            from PIL import Image

            Image.fromarray(ucm).save(tmp, format="PNG")
        else:
            import tifffile

            tifffile.imwrite(tmp, ucm)


def _write_report(outputs, path, image, channel_axis, labels, info, seconds, *, mask_path,
                  alpha_mask, beta, seed, overwrite):
    from importlib.metadata import PackageNotFoundError, version

    import numpy as np
    import scipy

    from .io import atomic_output

    def package_version(name, module=None):
        if module is not None:
            return module.__version__
        try:
            return version(name)
        except PackageNotFoundError:  # pragma: no cover
            return None

    report = {
        "input": str(path),
        "shape": list(image.shape),
        "dtype": str(image.dtype),
        "channel_axis": channel_axis,
        "mask": str(mask_path) if mask_path is not None else ("alpha" if alpha_mask else None),
        "mode": info["mode"],
        "n_segments": info["n_segments"],
        "n_nodes": info["n_nodes"],
        "n_components": info["n_components"],
        "solver": info.get("solver"),
        "assign": info.get("assign"),
        "threshold": info.get("threshold"),
        "beta": beta,
        "seed": seed,
        "ncut": float(info["ncut"]) if "ncut" in info else None,
        "eigenvalues": [float(v) for v in info.get("eigenvalues", [])],
        "seconds": {name: round(value, 6) for name, value in seconds.items()},
        "outputs": {kind: str(out) for kind, out in outputs.items() if kind != "report"},
        "label_values": "0 outside the mask, segments 1..k",
        "segment_sizes": np.bincount(labels[labels >= 0].ravel()).tolist(),
        "versions": {
            "specseg": __version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "python": sys.version.split()[0],
        },
    }
    with atomic_output(outputs["report"], overwrite=overwrite) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
            fh.write("\n")

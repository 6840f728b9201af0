"""``specseg segment IN.zarr -o OUT.zarr``: the command line's distributed path.

Kept apart from ``cli.py`` so that the command imports dask only for zarr stores.
Labels on disk follow the command's convention: 0 outside the mask, 1..k inside.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

import click
import numpy as np

#: Files that mark a directory as a zarr store (format 3, format 2 array and group).
_ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")


def is_zarr_store(path):
    """True for a path named ``*.zarr`` or a directory holding zarr metadata."""
    path = Path(path)
    return path.suffix == ".zarr" or (
        path.is_dir() and any((path / name).exists() for name in _ZARR_MARKERS))


def check_options(inputs, output, *, scheduler, workers, worker_memory, chunks,
                  in_memory_only=()):
    """Usage errors of the zarr path (exit 2), before anything is read.

    Returns True for the zarr path. ``in_memory_only`` are the options given
    that only the in-memory path uses (as written on the command line); the
    zarr path refuses them rather than ignore them.
    """
    stores = [p for p in inputs if is_zarr_store(p)]
    cluster_options = scheduler or workers or worker_memory or chunks
    if not stores:
        if output is not None and output.suffix == ".zarr":
            raise click.UsageError(
                f"{output}: a .zarr output needs a .zarr input; convert the image to zarr "
                "first, or write .tif/.png/.npy labels.")
        if cluster_options:
            raise click.UsageError(
                "--chunks, --scheduler, --workers and --worker-memory apply to .zarr inputs "
                "(the distributed path) only.")
        return False
    if len(inputs) > 1:
        raise click.UsageError(f"give one .zarr input at a time, got {len(inputs)} inputs.")
    if in_memory_only:
        raise click.UsageError(
            f"{', '.join(in_memory_only)}: not for .zarr inputs (the distributed path), "
            "which take -k, -o OUT.zarr, --beta, --spacing, --solver, --assign, --seed, "
            "--overwrite, --chunks and the cluster options; drop them, or convert the store "
            "to .npy or TIFF for the in-memory path.")
    if output is None or output.suffix != ".zarr":
        raise click.UsageError(
            f"{inputs[0]} is a zarr store: give -o OUT.zarr for its labels (written chunk "
            "by chunk).")
    if scheduler and (workers or worker_memory):
        raise click.UsageError(
            "give either --scheduler ADDRESS (an existing cluster) or --workers/--worker-memory "
            "(a local cluster), not both.")
    if os.path.realpath(output) == os.path.realpath(inputs[0]):
        raise click.UsageError(f"the output {output} is the input; choose another path.")
    return True


@contextlib.contextmanager
def dask_cluster(*, scheduler, workers, worker_memory):
    """A Client for ``scheduler``, a LocalCluster of ``workers``, or the local threads."""
    if not (scheduler or workers or worker_memory):
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the test extra installs distributed
        raise ImportError(
            "--scheduler and --workers need dask.distributed; pip install 'specseg[dask]'."
        ) from exc
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers or 1, threads_per_worker=1,
                      memory_limit=worker_memory or "auto", dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        yield client


def segment_store(path, output, *, n_segments, chunks, scheduler, workers, worker_memory, seed,
                  overwrite, quiet, verbose, beta=4.0, spacing=None, solver="auto",
                  assign="cluster_qr"):
    """Segment the zarr store ``path`` and write ``output``; returns the summary line."""
    from ._blockwise import _open_zarr_array, segment

    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} already exists; pass --overwrite to replace it")
    start = time.perf_counter()
    source = _open_zarr_array(os.fspath(path))
    ome = _is_ome(path)
    with dask_cluster(scheduler=scheduler, workers=workers, worker_memory=worker_memory) as client:
        mask, n_outside = _no_data_mask(source, path, quiet=quiet)
        labels, info = segment(source, n_segments, chunks=chunks, mask=mask, beta=beta,
                               spacing=spacing, solver=solver, assign=assign, random_state=seed,
                               return_info=True)
        graph_seconds = time.perf_counter() - start
        write_labels_store(labels, output, n_segments=info["n_segments"], overwrite=overwrite,
                           ome=ome, client=client, progress=not quiet and sys.stderr.isatty())
    seconds = time.perf_counter() - start
    if verbose:
        click.echo(f"{path}: region graph and partition {graph_seconds:.3f} s, labels "
                   f"{seconds - graph_seconds:.3f} s, total {seconds:.3f} s", err=True)
    n_voxels = int(np.prod(labels.shape)) - n_outside  # those segmented, as for images
    from .cli import _count

    return (f"{path}: {_count(info['n_segments'], 'segment')} of {n_voxels} voxels "
            f"({info['n_regions']} regions, {info['n_blocks']} blocks) in {seconds:.2f} s "
            f"-> {output}")


def _no_data_mask(source, path, *, quiet):
    """``(None, 0)``, or for a float store with NaN or inf voxels (no data) the mask
    of its finite voxels and their number outside it, with a warning line: they are
    left out and labelled 0, as the command does for image files. An extra pass
    over a float store's voxels."""
    import dask.array as da

    if np.dtype(source.dtype).kind != "f":
        return None, 0
    image = da.from_zarr(source)  # segment rechunks the mask to its blocks
    finite = da.isfinite(image)
    n_bad = int((~finite).sum().compute())
    if n_bad == 0:
        return None, 0
    if n_bad == image.size:
        raise click.ClickException(f"{path}: every voxel is NaN or inf (no data); nothing "
                                   "to segment")
    if not quiet:
        click.echo(f"specseg: warning: {path}: {n_bad} of {image.size} voxels are NaN or inf "
                   "(no data): left out of the mask, labelled 0", err=True)
    return finite, n_bad


def _is_ome(path):
    """False, or for an OME-Zarr image the ``axes`` and the ``coordinateTransformations``
    of its first level (each None where the metadata lacks them), for the labels."""
    import zarr

    from ._blockwise import ome_first_level

    node = zarr.open(os.fspath(path), mode="r")
    if isinstance(node, zarr.Array) or ome_first_level(dict(node.attrs)) is None:
        return False
    attrs = dict(node.attrs)
    multiscale = (attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales"))[0]
    try:
        transforms = multiscale["datasets"][0].get("coordinateTransformations")
    except (AttributeError, KeyError, IndexError, TypeError):
        transforms = None
    return {"axes": multiscale.get("axes"), "coordinateTransformations": transforms}


def write_labels_store(labels, output, *, n_segments, overwrite=False, ome=False, client=None,
                       progress=False):
    """Write lazy labels (-1 outside) as ``labels + 1`` to a zarr store, chunk by chunk.

    The store is written under a temporary name beside ``output`` and renamed
    into place when every chunk is written, so ``output`` never holds a partial
    result and an existing one is replaced only on success. With ``ome``, the
    store is an OME-Zarr image-label group with one level, ``0``; a dict ``ome``
    (from :func:`_is_ome`) gives its ``axes`` and ``coordinateTransformations``,
    the image's, so that the labels lie over it in a viewer.
    """
    import dask.array as da
    import zarr

    output = Path(output)
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    if partial.exists():
        shutil.rmtree(partial)
    dtype = np.uint16 if n_segments < 2**16 else np.uint32
    values = (labels + 1).astype(dtype)
    try:
        if ome:
            group = zarr.open_group(partial, mode="w")
            group.attrs["image-label"] = {"version": "0.4", "source": {"image": "../../"}}
            found = ome if isinstance(ome, dict) else {}
            group.attrs["multiscales"] = [{
                "version": "0.4", "name": output.stem,
                "axes": found.get("axes") or [
                    {"name": a, "type": "space"} for a in "zyx"[-labels.ndim:]],
                "datasets": [{"path": "0", "coordinateTransformations": found.get(
                    "coordinateTransformations") or [
                    {"type": "scale", "scale": [1.0] * labels.ndim}]}],
            }]
            target = str(partial / "0")
        else:
            target = str(partial)
        store = da.to_zarr(values, target, compute=False, overwrite=True)
        _compute(store, client=client, progress=progress)
        if output.exists():
            if not overwrite:
                raise FileExistsError(f"{output} already exists; pass --overwrite to replace it")
            old = output.with_name(f".{output.name}.old-{os.getpid()}")
            os.replace(output, old)
            os.replace(partial, output)
            _remove(old)
        else:
            os.replace(partial, output)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)


def _remove(path):
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _compute(task, *, client, progress):
    """Run ``task`` on ``client`` (or the local scheduler), with Dask's progress bar."""
    if client is not None:
        future = client.compute(task)
        if progress:
            from distributed import progress as show

            show(future)
        future.result()
        return
    if progress:
        from dask.diagnostics import ProgressBar

        with ProgressBar(out=sys.stderr):
            task.compute()
    else:
        task.compute()

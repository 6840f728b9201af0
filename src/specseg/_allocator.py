"""Keep freed memory for reuse while a large job runs.

The solvers make and drop many tall temporaries (a 1024² graph's block of 8
vectors is 64 MB). By default glibc serves every allocation above 32 MB with a
fresh ``mmap`` and returns it on ``free``, and NumPy asks the kernel for huge
pages on each one (``madvise``); the next temporary then page-faults all of its
memory in again. On this project's machine (a virtual machine, where first
touches are expensive) that kernel work took more time than the arithmetic:
a million-node LOBPCG solve spent 1.7 s of its 3.0 s in the kernel, and 0.3 s
of 1.6 s with the settings below.

:func:`reuse_freed_memory` therefore, for the duration of a job only,

- serves large allocations from the heap (``mallopt(M_MMAP_MAX, 0)``) and keeps
  freed memory there (a high ``M_TRIM_THRESHOLD``), so later temporaries reuse
  pages that are already mapped;
- turns off NumPy's huge-page ``madvise`` on new arrays;

and on exit restores the limits that were in force before (glibc's defaults,
or the values the process was started with through ``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_MMAP_MAX_`` or ``GLIBC_TUNABLES``) and NumPy's setting, and hands the
kept memory back to the system (``malloc_trim``). Where the C library is not
glibc (macOS, musl) only the NumPy setting changes. Results do not depend on
any of this: only where the memory comes from changes.

Inside a Dask worker the tuning is off by default: the nanny starts workers
with a low ``MALLOC_TRIM_THRESHOLD_`` and restarts one whose resident memory
passes its ``memory_limit``, so memory kept for reuse there would count
against the limit. ``SPECSEG_REUSE_FREED_MEMORY=on`` turns it on in workers
too (then at most a quarter of the worker's memory limit is kept), ``off``
turns it off everywhere; the default is ``auto``.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
from contextlib import contextmanager

import numpy as np

__all__ = ["job_memory", "prefaulted", "reuse_freed_memory"]

# glibc's mallopt parameters and their documented defaults (mallopt(3))
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536
#: While a job runs, free memory at the top of the heap is kept up to this size.
_KEEP_BYTES = 2**31 - 1

#: Environment variable: "auto" (default; off inside Dask workers), "on" or "off".
ENV_SWITCH = "SPECSEG_REUSE_FREED_MEMORY"

_lock = threading.Lock()
_depth = 0
_active = False


@functools.cache
def _glibc():
    """The C library's ``mallopt`` and ``malloc_trim``, or None where it has none."""
    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    malloc_trim.argtypes, malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return mallopt, malloc_trim


def _set_numpy_hugepage(enabled):
    """Set NumPy's huge-page ``madvise`` flag; returns the previous one (None if absent)."""
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is None:
        return None
    return setter(enabled)


@contextmanager
def reuse_freed_memory():
    """Within the block, reuse freed memory instead of faulting in fresh pages.

    Re-entrant and thread-safe: nested or concurrent jobs share one setting,
    restored when the outermost exits.

    Examples
    --------
    >>> with reuse_freed_memory():
    ...     total = sum(float(np.ones(1000).sum()) for _ in range(3))
    >>> total
    3000.0
    """
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1:
            _enter()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _exit()


_saved_hugepage = None


def _dask_worker_memory_limit():
    """The memory limit (bytes, 0 for none) of the Dask worker running this thread, or None.

    None outside a Dask worker task; ``distributed`` is never imported here.
    """
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        worker = distributed.get_worker()
    except (ValueError, AttributeError):
        return None
    manager = getattr(worker, "memory_manager", None)
    return int(getattr(manager, "memory_limit", None) or 0)


def _keep_bytes():
    """Freed bytes to keep during a job, or None to leave the allocator alone.

    See the module notes: off in Dask workers unless ``SPECSEG_REUSE_FREED_MEMORY=on``.
    """
    switch = os.environ.get(ENV_SWITCH, "auto").strip().lower()
    if switch in ("off", "0", "false", "no"):
        return None
    limit = _dask_worker_memory_limit()
    if limit is None:
        return _KEEP_BYTES
    if switch not in ("on", "1", "true", "yes"):
        return None
    return min(_KEEP_BYTES, limit // 4) if limit else _KEEP_BYTES


def settings_in_force(environ=None):
    """``(trim_threshold, mmap_max)`` that glibc runs with when nobody called ``mallopt``.

    glibc reads them once at start-up from ``GLIBC_TUNABLES``
    (``glibc.malloc.trim_threshold``, ``glibc.malloc.mmap_max``) or the older
    ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_MAX_`` (Dask's nanny sets the
    former for its workers); glibc offers no call that reads them back.

    Examples
    --------
    >>> settings_in_force({})
    (131072, 65536)
    >>> settings_in_force({"MALLOC_TRIM_THRESHOLD_": "65536"})
    (65536, 65536)
    >>> tunables = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=0x100"
    >>> settings_in_force({"GLIBC_TUNABLES": tunables})
    (256, 0)
    """
    environ = os.environ if environ is None else environ
    values = {"trim_threshold": _DEFAULT_TRIM_THRESHOLD, "mmap_max": _DEFAULT_MMAP_MAX}
    for name, variable in (("trim_threshold", "MALLOC_TRIM_THRESHOLD_"),
                           ("mmap_max", "MALLOC_MMAP_MAX_")):
        values[name] = _parse_size(environ.get(variable), values[name])
    for item in environ.get("GLIBC_TUNABLES", "").split(":"):
        key, _, value = item.partition("=")
        name = key.strip().removeprefix("glibc.malloc.")
        if key.strip().startswith("glibc.malloc.") and name in values:
            values[name] = _parse_size(value, values[name])
    return values["trim_threshold"], values["mmap_max"]


def _parse_size(text, default):
    """An integer setting as glibc reads it (decimal, 0x hex), or ``default``."""
    if text is None:
        return default
    try:
        return int(text.strip(), 0)
    except ValueError:
        return default


def _enter():
    global _saved_hugepage, _active
    keep = _keep_bytes()
    _active = keep is not None
    if not _active:
        return
    _saved_hugepage = _set_numpy_hugepage(False)
    libc = _glibc()
    if libc is not None:
        mallopt, _ = libc
        mallopt(_M_TRIM_THRESHOLD, keep)
        mallopt(_M_MMAP_MAX, 0)


def _exit():
    global _active
    if not _active:
        return
    _active = False
    if _saved_hugepage is not None:
        _set_numpy_hugepage(_saved_hugepage)
    libc = _glibc()
    if libc is not None:
        mallopt, malloc_trim = libc
        trim_threshold, mmap_max = settings_in_force()
        mallopt(_M_MMAP_MAX, mmap_max)
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
        malloc_trim(0)


#: Jobs smaller than this do not pre-fault memory.
PREFAULT_MIN_BYTES = 64 * 2**20
#: Memory is mapped and handed over in pieces of this size.
_PIECE_BYTES = 16 * 2**20
_PAGE = 4096


@contextmanager
def prefaulted(n_bytes):
    """Map about ``n_bytes`` of heap memory on another thread while the block runs.

    The memory is reserved at once, then written one page at a time by a
    helper thread (on another core), which frees each piece as soon as it is
    mapped. Under :func:`reuse_freed_memory` (with glibc) the allocations that
    the block makes from then on reuse those pages instead of faulting in fresh
    ones. Elsewhere, and for small sizes, it does nothing. No result depends on it.
    """
    if n_bytes < PREFAULT_MIN_BYTES or not _active or _glibc() is None:
        yield
        return
    pieces = [np.empty(_PIECE_BYTES, dtype=np.uint8)
              for _ in range(-(-int(n_bytes) // _PIECE_BYTES))]

    def map_pieces():
        while pieces:
            try:
                piece = pieces.pop(0)
            except IndexError:  # the block's exit took the rest
                return
            piece[::_PAGE] = 0  # one write per page maps it; NumPy drops the GIL
            del piece  # freed into the heap, lowest addresses first

    worker = threading.Thread(target=map_pieces, daemon=True)
    worker.start()
    try:
        yield
    finally:
        pieces.clear()
        worker.join()


@contextmanager
def job_memory(n_bytes=0):
    """:func:`reuse_freed_memory`, with about ``n_bytes`` :func:`prefaulted`."""
    with reuse_freed_memory(), prefaulted(n_bytes):
        yield

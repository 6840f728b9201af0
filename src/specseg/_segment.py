"""Image -> labels: :func:`segment` composes graph, embedding and assignment."""

from __future__ import annotations

import time

from ._assign import ASSIGN_METHODS
from ._clustering import _cluster, canonical_labels
from ._embedding import SOLVERS
from ._graph import pixel_graph
from ._memory import check_memory as _check_memory
from ._validation import check_n_segments, check_option, check_random_state

__all__ = ["segment"]


def segment(
    image,
    n_segments=8,
    *,
    mask=None,
    channel_axis=None,
    beta=1.0,
    connectivity=1,
    spacing=None,
    solver="auto",
    assign="cluster_qr",
    refine=True,
    random_state=None,
    progress=None,
    return_info=False,
    check_memory=True,
    max_memory=None,
):
    """Segment a 2-D or 3-D image by the normalized cut of its pixel graph.

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        Grey or multichannel image of any real dtype.
    n_segments : int, optional
        Number of segments.
    mask : (M, N[, P]) array_like of bool, optional
        Pixels to segment (nonzero = inside). Pixels outside get label -1.
    channel_axis : int, optional
        Axis holding colour channels; None for a single-channel image.
    beta : float, optional
        Sharpness of the intensity kernel, see :func:`pixel_graph`.
    connectivity : int, optional
        Neighbourhood, see :func:`pixel_graph`.
    spacing : sequence of float, optional
        Pixel spacing, see :func:`pixel_graph`.
    solver : {"auto", "arpack", "lobpcg", "amg", "dense"}, optional
        Eigensolver, see :func:`spectral_embedding`.
    assign : {"cluster_qr", "kmeans", "discretize"}, optional
        Label assignment, see :func:`assign_labels`.
    refine : bool, optional
        Polish the labels by local moves that lower the normalized cut.
    random_state : None, int or numpy.random.Generator, optional
        Seeds every random choice; the same value gives the same labels.
    progress : callable, optional
        Called as ``progress(stage, fraction)`` when a stage starts
        (``fraction=0.0``) and ends (``1.0``); stages are "graph", "embedding",
        "assignment" and "refinement". For progress bars and logging.
    return_info : bool, optional
        Also return a dict describing the run: ``n_segments``, ``solver``,
        ``eigenvalues``, ``residuals`` (eigen-residual norms), ``ncut``,
        ``n_nodes``, ``n_components`` (connected components of the graph) and
        ``timings`` (seconds per stage).
    check_memory : bool, optional
        Before anything large is allocated, compare :func:`estimate_memory` with
        the memory available and raise :class:`MemoryError` if the job would not
        fit. False skips the check.
    max_memory : int, optional
        Bytes the job may use, in place of the available memory reported by the
        operating system (for a shared machine, or for tests).

    Returns
    -------
    labels : (M, N[, P]) ndarray of int
        -1 outside the mask and ``0 .. n_segments - 1`` inside, numbered in order
        of each segment's first pixel in raster order.
    info : dict
        Only if ``return_info``.

    Raises
    ------
    MemoryError
        If ``check_memory`` and the estimated peak memory exceeds what is
        available; the message says how much is needed and what to do instead.

    Examples
    --------
    >>> from specseg.datasets import four_circles
    >>> image, mask, truth = four_circles(60, random_state=0)
    >>> labels = segment(image, 4, mask=mask, random_state=0)
    >>> labels.shape, int(labels.min()), int(labels.max())
    ((60, 60), -1, 3)
    """
    check_n_segments(n_segments, None)  # fail before building the graph; bound checked below
    check_option("solver", solver, SOLVERS)
    check_option("assignment method", assign, ASSIGN_METHODS)
    rng = check_random_state(random_state)
    if check_memory:  # from the shape alone: before the image is converted to float64
        _check_memory(image, n_segments, max_memory=max_memory, mask=mask,
                      channel_axis=channel_axis, connectivity=connectivity, solver=solver,
                      assign=assign, refine=refine)
    stages = _StageClock(progress)
    with stages("graph"):
        graph = pixel_graph(
            image,
            mask=mask,
            channel_axis=channel_axis,
            connectivity=connectivity,
            beta=beta,
            spacing=spacing,
        )
    n_segments = check_n_segments(n_segments, graph.n_nodes)
    node_labels, result = _cluster(graph.affinity, n_segments, solver=solver, assign=assign,
                              refine=refine, tol=None, rng=rng, stages=stages)
    labels = canonical_labels(graph.to_image(node_labels))
    if not return_info:
        return labels
    from .metrics import ncut_value

    info = {
        "n_segments": n_segments,
        "n_nodes": graph.n_nodes,
        "solver": result.solver,
        "assign": assign,
        "eigenvalues": result.eigenvalues.tolist(),
        "residuals": result.residuals.tolist(),
        "n_components": result.n_components,
        "ncut": ncut_value(graph.affinity, node_labels),
        "timings": dict(stages.timings),
    }
    return labels, info


class _StageClock:
    """Times named stages and reports them to an optional progress callback."""

    def __init__(self, progress=None):
        self.progress = progress
        self.timings = {}

    def __call__(self, stage):
        return _Stage(self, stage)


class _Stage:
    def __init__(self, clock, name):
        self.clock, self.name = clock, name

    def __enter__(self):
        if self.clock.progress is not None:
            self.clock.progress(self.name, 0.0)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        elapsed = time.perf_counter() - self.start
        self.clock.timings[self.name] = self.clock.timings.get(self.name, 0.0) + elapsed
        if self.clock.progress is not None and exc[0] is None:
            self.clock.progress(self.name, 1.0)
        return False

"""Time the hierarchy engine on a BSDS-sized boundary map (481 x 321).

The boundary map is the Sobel gradient of scikit-image's ``astronaut`` in grey,
resized to 321 x 481 and divided by its maximum; the oriented strengths (for
the oriented watershed transform) spread it over ``--orientations`` bins by
``cos^2`` of the angle to the boundary's direction. Neither is a good contour
detector: they give the engine a realistic number of leaves (about 14,000,
more than a smooth detector gives) to time.

    python benchmarks/hierarchy.py              # median of 7 runs
    python benchmarks/hierarchy.py --repeat 3
    python benchmarks/hierarchy.py --photo      # the whole specseg.hierarchy, per stage

``--photo`` times the whole pipeline, ``specseg.hierarchy(image)`` on the
colour ``astronaut`` resized to 321 x 481 (a BSDS500-sized photograph): the
seconds of each stage (local cues, spectral globalization, the contour
hierarchy's leaves and merging, the learned merging of its regions) and of the
whole, medians of ``--repeat`` runs in this process.

Prints the median seconds (wall clock and CPU time of this process, which a
busy machine inflates less) of ``ultrametric_hierarchy`` without and with
orientation, and the median and worst milliseconds of one ``cut`` over 99
thresholds 0.01 .. 0.99, with the machine's load average (the machine may be
shared: compare runs made at similar load).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from skimage import color, data, filters, transform

from specseg._hierarchy import ultrametric_hierarchy


def boundary_maps(n_orient):
    """(boundary, orientation) of the astronaut at 321 x 481, both in [0, 1]."""
    grey = color.rgb2gray(transform.resize(data.astronaut(), (321, 481), anti_aliasing=True))
    magnitude = filters.sobel(grey)
    scale = magnitude.max()
    boundary = magnitude / scale
    d_row, d_col = filters.sobel_h(grey), filters.sobel_v(grey)
    # a boundary runs across the gradient: along (d_col, -d_row) in (row, col)
    direction = np.arctan2(-d_row, d_col)
    theta = np.arange(n_orient)[:, None, None] * np.pi / n_orient
    orientation = boundary * np.cos(theta - direction) ** 2
    return boundary, np.clip(orientation, 0, 1)


def median_seconds(function, repeat):
    """Median wall-clock and CPU seconds of ``function()``, and its result."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu)), result


def photo_stages(repeat):
    """Median seconds per stage of ``specseg.hierarchy`` on a 321 x 481 photograph."""
    import specseg

    image = transform.resize(data.astronaut(), (321, 481), anti_aliasing=True)
    specseg.hierarchy(image, channel_axis=-1)  # loads the model, warms the caches
    runs = []
    for _ in range(repeat):
        start_cpu = time.process_time()
        _, info = specseg.hierarchy(image, channel_axis=-1, return_info=True)
        info["cpu"] = time.process_time() - start_cpu
        runs.append(info)
    stages = ("local", "spectral", "ucm", "merging", "total", "cpu")
    medians = {name: float(np.median([run[name] for run in runs])) for name in stages}
    print(f"hierarchy of astronaut at 321 x 481, {runs[-1]['n_leaves']} leaves, medians of "
          f"{repeat}: " + ", ".join(f"{name} {value:.3f} s" for name, value in medians.items()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--orientations", type=int, default=8)
    parser.add_argument("--photo", action="store_true",
                        help="time the whole specseg.hierarchy on a photograph, per stage")
    args = parser.parse_args(argv)
    if args.photo:
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        photo_stages(args.repeat)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    boundary, orientation = boundary_maps(args.orientations)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for name, kwargs in [("plain", {}), (f"OWT, {args.orientations} orientations",
                                         {"orientation": orientation})]:
        seconds, cpu, hierarchy = median_seconds(
            lambda kw=kwargs: ultrametric_hierarchy(boundary, **kw), args.repeat)
        cuts = []
        for threshold in np.linspace(0.01, 0.99, 99):
            start = time.perf_counter()
            hierarchy.cut(threshold=threshold)
            cuts.append(time.perf_counter() - start)
        print(f"{name}: {hierarchy!r}")
        print(f"  build {seconds:.3f} s wall, {cpu:.3f} s CPU (medians of {args.repeat}); "
              f"one cut: median "
              f"{1e3 * np.median(cuts):.2f} ms, worst {1e3 * np.max(cuts):.2f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

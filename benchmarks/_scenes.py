"""Benchmark scenes: piecewise-constant frames and volumes with ground truth."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def frame(shape, *, n_regions=8, noise=0.05, random_state=0):
    """Voronoi cells of ``n_regions`` random sites, distinct intensities, Gaussian noise.

    Returns ``(image, truth)``; the intensities are spread evenly over [0, 1] in a
    random order, so neighbouring cells differ by at least ``1 / (n_regions - 1)``.
    """
    rng = np.random.default_rng(random_state)
    shape = tuple(shape)
    sites = np.zeros(shape, dtype=np.int32)
    coords = tuple(rng.integers(0, s, n_regions) for s in shape)
    sites[coords] = np.arange(1, n_regions + 1)
    # nearest site for every pixel (Euclidean distance transform, no pixel loop)
    _, nearest = ndimage.distance_transform_edt(sites == 0, return_indices=True)
    truth = sites[tuple(nearest)] - 1
    levels = rng.permutation(np.linspace(0.0, 1.0, n_regions))
    image = levels[truth] + noise * rng.standard_normal(shape)
    return image.astype(np.float32 if image.size > 2**24 else np.float64), truth

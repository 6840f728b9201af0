"""Synthetic scenes with ground truth."""

from __future__ import annotations

import numpy as np

from ._validation import check_positive_float, check_random_state

__all__ = ["four_circles"]

# The seed example's circles on a 100 x 100 grid: (row, column, radius).
_SEED_CIRCLES = ((28, 24, 16), (40, 50, 14), (67, 58, 15), (24, 70, 14))


def four_circles(size=100, *, noise=0.2, random_state=None):
    """The seed example's four touching noisy circles.

    Parameters
    ----------
    size : int, optional
        Side of the square image; centres and radii scale by ``size / 100``.
    noise : float, optional
        Standard deviation of the Gaussian noise (the circles are 1 brighter
        than the background).
    random_state : None, int or numpy.random.Generator, optional
        Seeds the noise.

    Returns
    -------
    image : (size, size) ndarray of float64
        ``1 + circles + noise``, as in the seed.
    mask : (size, size) ndarray of bool
        The union of the circles.
    truth : (size, size) ndarray of int
        -1 outside the mask; inside, the circle whose centre is nearest (the
        Voronoi split of the seed's remark, which also settles pixels where two
        circles overlap).

    Examples
    --------
    >>> image, mask, truth = four_circles(random_state=0)
    >>> image.shape, int(mask.sum()), sorted(np.unique(truth).tolist())
    ((100, 100), 2678, [-1, 0, 1, 2, 3])
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}.")
    noise = check_positive_float("noise", noise, allow_zero=True)
    rng = check_random_state(random_state)
    scale = size / 100.0
    rows, cols = np.indices((size, size), dtype=np.float64)
    inside = []
    distance = []
    for r0, c0, radius in _SEED_CIRCLES:
        d2 = (rows - r0 * scale) ** 2 + (cols - c0 * scale) ** 2
        inside.append(d2 < (radius * scale) ** 2)
        distance.append(d2)
    mask = np.any(inside, axis=0)
    truth = np.where(mask, np.argmin(distance, axis=0), -1)
    image = 1.0 + mask + noise * rng.standard_normal((size, size))
    return image, mask, truth

"""Synthetic scenes with ground truth."""

from __future__ import annotations

import numpy as np

from ._validation import check_positive_float, check_random_state

__all__ = ["balls", "four_circles", "hue_regions", "shapes", "textured_regions"]

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


def _layout(shape, n_shapes, rng, *, min_radius, max_radius, margin=2):
    """Non-overlapping ellipses (2-D) or ellipsoids (3-D): a label image, 0 outside.

    Shapes are placed by rejection on their bounding spheres, largest first, so
    every shape is fully visible and the truth is unambiguous.
    """
    ndim = len(shape)
    grid = np.indices(shape, dtype=np.float64)
    labels = np.zeros(shape, dtype=np.intp)
    placed = []  # (centre, bounding radius)
    radii_all = np.sort(rng.uniform(min_radius, max_radius, n_shapes))[::-1]
    for index, radius in enumerate(radii_all, start=1):
        for _ in range(500):
            axes = radius * rng.uniform(0.6, 1.0, ndim)
            axes[0] = radius
            lo = radius + margin
            centre = np.array([rng.uniform(lo, s - 1 - lo) for s in shape])
            if all(np.linalg.norm(centre - c) > radius + r + margin for c, r in placed):
                break
            radius *= 0.97  # shrink a little and retry in a crowded frame
        else:  # pragma: no cover - only for absurd densities
            raise ValueError(f"could not place {n_shapes} shapes in a frame of shape {shape}.")
        placed.append((centre, radius))
        rotation = _random_rotation(ndim, rng)
        offset = (grid - centre.reshape((ndim,) + (1,) * ndim)).reshape(ndim, -1)
        local = rotation.T @ offset
        inside = (np.sum((local / axes[:, None]) ** 2, axis=0) <= 1.0).reshape(shape)
        labels[inside] = index
    return labels


def _random_rotation(ndim, rng):
    q, r = np.linalg.qr(rng.standard_normal((ndim, ndim)))
    return q * np.sign(np.diag(r))


def _check_size(size, minimum=16):
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < minimum:
        raise ValueError(f"size must be an integer >= {minimum}, got {size!r}.")
    return int(size)


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _shading(shape, rng):
    """A linear ramp in [-0.5, 0.5] along a random direction."""
    direction = rng.standard_normal(len(shape))
    direction /= np.linalg.norm(direction)
    coords = np.indices(shape, dtype=np.float64)
    ramp = np.tensordot(direction, coords / np.array(shape).reshape((-1,) + (1,) * len(shape)), 1)
    ramp -= ramp.min()
    top = ramp.max()
    return ramp / top - 0.5 if top > 0 else ramp


def shapes(size=256, *, n_shapes=5, noise=0.1, shading=0.2, ndim=2, random_state=None):
    """Random ellipses (or ellipsoids) of distinct grey levels over a shaded background.

    Parameters
    ----------
    size : int, optional
        Side of the square image (or cubic volume).
    n_shapes : int, optional
        Number of shapes; the scene has ``n_shapes + 1`` segments.
    noise : float, optional
        Standard deviation of the Gaussian noise, as a fraction of the intensity
        range (the grey levels span [0, 1]).
    shading : float, optional
        Peak-to-peak amplitude of a linear ramp added to the background.
    ndim : {2, 3}, optional
        2 for an image, 3 for a volume.
    random_state : None, int or numpy.random.Generator, optional
        Seeds the layout, the levels and the noise.

    Returns
    -------
    image : (size, size[, size]) ndarray of float64
    truth : (size, size[, size]) ndarray of int
        0 for the background, ``1 .. n_shapes`` for the shapes.

    Notes
    -----
    The ``n_shapes + 1`` grey levels are evenly spaced in [0, 1] (so neighbouring
    levels differ by ``1 / n_shapes``) and shuffled; the background takes one of
    them. A noise of 0.1 is therefore half the smallest step for 5 shapes.

    Examples
    --------
    >>> image, truth = shapes(64, n_shapes=3, random_state=0)
    >>> image.shape, sorted(np.unique(truth).tolist())
    ((64, 64), [0, 1, 2, 3])
    """
    size = _check_size(size)
    n_shapes = _check_count("n_shapes", n_shapes)
    noise = check_positive_float("noise", noise, allow_zero=True)
    shading = check_positive_float("shading", shading, allow_zero=True)
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3, got {ndim!r}.")
    rng = check_random_state(random_state)
    shape = (size,) * ndim
    scale = size / (1.6 * n_shapes ** (1.0 / ndim))
    truth = _layout(shape, n_shapes, rng, min_radius=0.35 * scale, max_radius=0.7 * scale)
    levels = rng.permutation(np.linspace(0.0, 1.0, n_shapes + 1))
    image = levels[truth] + shading * _shading(shape, rng) * (truth == 0)
    image += noise * rng.standard_normal(shape)
    return image, truth


def balls(size=64, *, n_balls=4, noise=0.1, shading=0.2, random_state=None):
    """Ellipsoidal balls of distinct grey levels in a shaded volume.

    A 3-D :func:`shapes`; returns ``(volume, truth)`` with ``n_balls + 1`` segments.

    Examples
    --------
    >>> volume, truth = balls(24, n_balls=2, random_state=0)
    >>> volume.shape, int(truth.max())
    ((24, 24, 24), 2)
    """
    return shapes(size, n_shapes=n_balls, noise=noise, shading=shading, ndim=3,
                  random_state=random_state)


def hue_regions(size=256, *, n_regions=4, noise=0.05, lightness=60.0, chroma=40.0,
                random_state=None):
    """Colour ellipses that differ in hue but not in lightness.

    Every segment (the background and ``n_regions`` ellipses) has the same
    CIELAB lightness and chroma; only the hue angle differs, evenly spaced
    around the colour circle and shuffled. A grey-level method sees almost
    nothing; a colour method must separate hues.

    Parameters
    ----------
    size : int, optional
        Side of the square image.
    n_regions : int, optional
        Number of ellipses; the scene has ``n_regions + 1`` segments.
    noise : float, optional
        Standard deviation of the Gaussian noise added to each RGB channel
        (RGB values lie in [0, 1]; the result is clipped to [0, 1]).
    lightness, chroma : float, optional
        CIELAB lightness ``L*`` and chroma ``sqrt(a*^2 + b*^2)`` of every segment.
    random_state : None, int or numpy.random.Generator, optional

    Returns
    -------
    image : (size, size, 3) ndarray of float64
        RGB in [0, 1].
    truth : (size, size) ndarray of int

    Examples
    --------
    >>> image, truth = hue_regions(48, n_regions=2, random_state=0)
    >>> image.shape, int(truth.max())
    ((48, 48, 3), 2)
    """
    from skimage.color import lab2rgb

    size = _check_size(size)
    n_regions = _check_count("n_regions", n_regions)
    noise = check_positive_float("noise", noise, allow_zero=True)
    rng = check_random_state(random_state)
    scale = size / (1.6 * np.sqrt(n_regions))
    truth = _layout((size, size), n_regions, rng, min_radius=0.35 * scale,
                    max_radius=0.7 * scale)
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * rng.permutation(n_regions + 1) / (
        n_regions + 1
    )
    lab = np.stack([np.full(n_regions + 1, float(lightness)), chroma * np.cos(angles),
                    chroma * np.sin(angles)], axis=-1)
    colours = np.clip(lab2rgb(lab[None])[0], 0.0, 1.0)
    image = colours[truth] + noise * rng.standard_normal((size, size, 3))
    return np.clip(image, 0.0, 1.0), truth


def textured_regions(size=256, *, n_regions=4, noise=0.1, random_state=None):
    """Voronoi cells filled with stripes of different orientation and period.

    Neighbouring cells have nearly the same mean grey level (each cell's mean
    differs from the others by at most 0.1); they differ in texture. This is
    a hard scene for methods that compare mean intensities.

    Returns
    -------
    image : (size, size) ndarray of float64
    truth : (size, size) ndarray of int
        ``0 .. n_regions - 1``.

    Examples
    --------
    >>> image, truth = textured_regions(48, n_regions=3, random_state=0)
    >>> image.shape, sorted(np.unique(truth).tolist())
    ((48, 48), [0, 1, 2])
    """
    size = _check_size(size)
    n_regions = _check_count("n_regions", n_regions)
    noise = check_positive_float("noise", noise, allow_zero=True)
    rng = check_random_state(random_state)
    rows, cols = np.indices((size, size), dtype=np.float64)
    # well-spread seeds: best of a few candidates by distance to those already chosen
    seeds = [rng.uniform(0, size, 2)]
    while len(seeds) < n_regions:
        cand = rng.uniform(0, size, (16, 2))
        dist = np.min(np.linalg.norm(cand[:, None] - np.array(seeds)[None], axis=2), axis=1)
        seeds.append(cand[dist.argmax()])
    seeds = np.array(seeds)
    d2 = (rows[None] - seeds[:, 0, None, None]) ** 2 + (cols[None] - seeds[:, 1, None, None]) ** 2
    truth = np.argmin(d2, axis=0)
    image = np.empty((size, size))
    angles = rng.permutation(n_regions) * np.pi / n_regions
    periods = rng.uniform(4.0, 12.0, n_regions)
    means = 0.5 + rng.uniform(-0.05, 0.05, n_regions)
    for r in range(n_regions):
        phase = (rows * np.cos(angles[r]) + cols * np.sin(angles[r])) * 2 * np.pi / periods[r]
        region = truth == r
        image[region] = means[r] + 0.25 * np.sin(phase[region])
    image += noise * rng.standard_normal((size, size))
    return image, truth

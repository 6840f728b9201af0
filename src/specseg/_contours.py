"""Image -> boundary strength: learned local cues, then spectral globalization.

:func:`contours` gives, for every pixel, the probability that a person would
draw a boundary there. It has two stages, as gPb of Arbeláez et al. [1]_:

1. **Local cues** (mPb): the brightness, colour and texture gradients of
   :mod:`specseg._features` at three scales, combined by a small neural network
   fitted on the BSDS500 train split (``benchmarks/train_contours.py``; the
   weights ship as ``specseg/data/contours.npz``, plain arrays).
2. **Spectral globalization** (sPb): a graph over the pixels whose affinity
   falls with the strongest local boundary on the straight line between two
   pixels (*intervening contours*), its smallest generalized eigenvectors by
   specseg's own engine, and their gradients: a boundary that separates large
   coherent areas shows in the eigenvectors, a texture edge inside an object
   does not. See :mod:`specseg._globalization`.

References
----------
.. [1] P. Arbeláez, M. Maire, C. Fowlkes and J. Malik, "Contour detection and
       hierarchical image segmentation", IEEE TPAMI 33(5), 2011.
       :doi:`10.1109/TPAMI.2010.161`
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from . import _features
from ._validation import check_image

__all__ = ["contours"]


@functools.cache
def _model():
    """The fitted texton centres and network weights, read once."""
    with resources.files("specseg").joinpath("data/contours.npz").open("rb") as handle:
        with np.load(handle) as data:
            return {name: data[name] for name in data.files}


def _network(features, model):
    """The network's boundary probability for every row of ``features``."""
    hidden = (features - model["mean"]) / model["scale"]
    n_layers = sum(1 for name in model if name.startswith("w"))
    for i in range(n_layers):
        hidden = hidden @ model[f"w{i}"] + model[f"b{i}"]
        if i < n_layers - 1:
            np.maximum(hidden, 0.0, out=hidden)
    return 1.0 / (1.0 + np.exp(-hidden[:, 0]))


def local_boundaries(image, *, maps=None):
    """mPb and its orientation for a validated 2-D ``(M, N, C)`` image.

    ``maps``: the image's :func:`specseg._features.colour_texture_maps` with
    the model's texton centres (:func:`texton_centres`), if already computed.
    """
    model = _model()
    features, orientation = _features.cue_features(image, model["centres"], maps=maps)
    flat = features.reshape(-1, features.shape[-1])
    strength = _network(flat, model).reshape(features.shape[:-1])
    return strength.astype(np.float32), orientation


def texton_centres():
    """The texton centres of the fitted model, ``(n_textons, n_filters)``."""
    return _model()["centres"]


def oriented(strength, angle, n_orient=8):
    """Oriented strengths ``(n_orient, M, N)`` for the oriented watershed.

    ``angle`` is the gradient direction across the boundary, counter-clockwise
    from the column axis with rows pointing down; bin ``o`` answers for a
    boundary running along ``(d_row, d_col) = (cos theta_o, sin theta_o)``, the
    convention of :func:`specseg._hierarchy.ultrametric_hierarchy`. A step
    seen by a half-disc at ``delta`` from its normal gives ``|cos delta|`` of
    its full contrast, so that is the weight.
    """
    along = np.mod(-angle, np.pi)
    thetas = np.arange(n_orient) * np.pi / n_orient
    weight = np.abs(np.cos(thetas[:, None, None] - along[None]))
    return (weight * strength[None]).astype(np.float32)


#: Weight of the spectral boundaries (normalised by their maximum) against the
#: local ones in the combined map (tuned on BSDS500 val).
SPECTRAL_WEIGHT = 0.5
#: A local boundary map whose values span at most this is flat (a constant
#: image): it is not globalized.
FLAT_STRENGTH = 1e-6


def boundary_map(image, *, globalization=True, random_state=None, timings=None, maps=None):
    """Combined boundary strength and its direction for a validated 2-D image.

    Returns ``(strength, angle)``: ``strength`` (M, N) float32 in [0, 1] and
    ``angle`` (M, N), the direction across the boundary (see
    :func:`specseg._features.tensor_angle`). ``timings``, a dict, receives the
    seconds of each stage; ``maps`` as for :func:`local_boundaries`.
    """
    import time

    from ._globalization import spectral_boundaries

    clock = time.perf_counter()
    strength, angle = local_boundaries(image, maps=maps)
    if timings is not None:
        timings["local"] = time.perf_counter() - clock
    if globalization:
        clock = time.perf_counter()
        # A flat local map (a constant image) has no boundary to globalize: the
        # eigenvectors of its uniform graph are smooth waves, whose gradients,
        # scaled to their peak, would draw boundaries of strength 0.5.
        flat = float(strength.max() - strength.min()) <= FLAT_STRENGTH
        spectral = 0.0 if flat else spectral_boundaries(strength, random_state=random_state)
        peak = float(np.max(spectral))
        if peak > 0:
            strength = (1.0 - SPECTRAL_WEIGHT) * strength + SPECTRAL_WEIGHT * (spectral / peak)
        if timings is not None:
            timings["spectral"] = time.perf_counter() - clock
    return np.clip(strength, 0.0, 1.0).astype(np.float32), angle


#: The smallest side of an image the cues can describe (two cells of the
#: coarsest grid, 8 times coarser than the pixels).
MIN_SIDE = 9


def _check_2d(image, channel_axis, *, stacklevel=3):
    """A 2-D image of at least ``MIN_SIDE`` pixels a side, ``(M, N, C)`` float64.

    Warns (``stacklevel`` as for :func:`warnings.warn`, from this function)
    when ``C`` is neither 1 nor 3: the cues average the channels into grey.
    """
    image = check_image(image, channel_axis=channel_axis)
    if image.ndim != 3:
        hint = ""
        if channel_axis is None and image.shape[-2] in (3, 4):
            hint = (f" An image of shape {image.shape[:-1]} with channel_axis=None is read "
                    f"as {image.shape[-2]} slices; if its last axis holds colour channels "
                    "(RGB), pass channel_axis=-1.")
        raise ValueError(
            f"contours work on 2-D images; got {image.ndim - 1} spatial dimensions.{hint} "
            "Segment volumes with specseg.segment(volume, k, mode='regions')."
        )
    n_channels = image.shape[-1]
    if n_channels not in (1, 3):
        import warnings

        alpha = (" For an RGBA image pass image[..., :3], and mask=image[..., 3] > 0 to "
                 "leave its transparent pixels out." if n_channels == 4 else "")
        warnings.warn(
            f"the contour cues read a grey (1 channel) or colour (3 channels, RGB) image; "
            f"this one has {n_channels} channels, which are averaged into one grey channel, "
            f"so colour differences are lost.{alpha} mode='regions' compares any number "
            "of channels.",
            UserWarning, stacklevel=stacklevel,
        )
    if min(image.shape[:2]) < MIN_SIDE:
        raise ValueError(
            f"contours need an image of at least {MIN_SIDE} x {MIN_SIDE} pixels (their "
            f"coarsest cues pool 8 x 8 blocks); got {image.shape[0]} x {image.shape[1]}. "
            "Segment small images with specseg.segment(image, k, mode='pixels') "
            "(--mode pixels)."
        )
    return image


def contours(image, *, channel_axis=None, globalization=True, random_state=None):
    """Boundary strength of a 2-D grey or colour image.

    Parameters
    ----------
    image : (M, N[, C]) array_like
        Grey or colour (RGB) image of any real dtype, at least 9 x 9 pixels.
        Values are divided by the image's maximum (after shifting a negative
        minimum to 0), so uint8, uint16 and float copies of one picture agree.
        Other channel counts than 1 and 3 (e.g. RGBA) are averaged into grey,
        with a warning.
    channel_axis : int, optional
        Axis holding the colour channels; None (the default, unlike
        scikit-image's) for a grey image: pass -1 for an (M, N, 3) RGB image.
    globalization : bool, optional
        Combine the local cues with their spectral globalization (see the
        module notes); False gives the local cues alone (faster).
    random_state : None, int or numpy.random.Generator, optional
        Seeds the eigensolver of the globalization. None means a fixed seed.

    Returns
    -------
    strength : (M, N) ndarray of float32
        In [0, 1]: high on a band a few pixels wide around a boundary, peaking
        on it; the local part estimates the share of people who would draw a
        boundary through each pixel.

    Examples
    --------
    >>> image = np.zeros((40, 40))
    >>> image[:, 20:] = 1.0
    >>> strength = contours(image)
    >>> strength.shape, bool(strength[20, 19:21].min() > 4 * strength[20, 5])
    ((40, 40), True)
    """
    image = _check_2d(image, channel_axis)
    strength, _ = boundary_map(image, globalization=globalization, random_state=random_state)
    return strength

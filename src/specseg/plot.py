"""Pictures of segmentations. matplotlib is imported only inside these functions."""

from __future__ import annotations

import numpy as np

__all__ = ["figure", "overlay"]


def figure(image, labels, *, cmap="nipy_spectral", figsize=(6, 3)):
    """The seed example's two-panel figure: image and labels side by side, no axes.

    Parameters
    ----------
    image : (M, N) or (M, N, 3|4) array_like
        The image (a 2-D slice for volumes).
    labels : (M, N) array_like of int
        Labels, -1 outside the mask.
    cmap : str, optional
        Colormap for a grey image and for the labels.
    figsize : tuple, optional
        Figure size in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg",) and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, labels = _check_pair(image, labels)
    if image.ndim == 3:
        image = _to_unit_range(image)
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
    left.imshow(image, cmap=cmap if image.ndim == 2 else None, interpolation="nearest")
    right.imshow(labels, cmap=cmap, interpolation="nearest")
    for ax in (left, right):
        ax.axis("off")
    fig.subplots_adjust(wspace=0, hspace=0.0, top=0.99, bottom=0.01, left=0.01, right=0.99)
    return fig


def overlay(image, labels, *, ax=None, color=(1, 1, 0), mode="inner"):
    """The image with the segment boundaries drawn on it.

    A thin wrapper over :func:`skimage.segmentation.mark_boundaries` that first
    maps any image (uint16, float of any range, RGBA) to RGB floats in [0, 1].

    Parameters
    ----------
    image : (M, N) or (M, N, 3|4) array_like
        Grey or colour image (a 2-D slice for volumes); an alpha channel is ignored.
    labels : (M, N) array_like of int
        Labels, -1 outside the mask; the mask's edge is drawn as a boundary too.
    ax : matplotlib.axes.Axes, optional
        If given, the overlay is drawn on it with ``imshow``.
    color : tuple of 3 floats, optional
        RGB colour of the boundaries, in [0, 1].
    mode : {"inner", "outer", "thick", "subpixel"}, optional
        Boundary mode, see :func:`skimage.segmentation.find_boundaries`.

    Returns
    -------
    overlay : (M, N, 3) ndarray of float
        The RGB overlay in [0, 1], when ``ax`` is None (no matplotlib needed).
    image : matplotlib.image.AxesImage
        The artist drawn, when ``ax`` is given.

    Examples
    --------
    >>> image = np.zeros((4, 6)); image[:, 3:] = 1
    >>> labels = (image > 0).astype(int)
    >>> overlay(image, labels).shape
    (4, 6, 3)
    """
    from skimage.segmentation import mark_boundaries

    image, labels = _check_pair(image, labels)
    rgb = _to_unit_range(image)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., np.newaxis], 3, axis=-1)
    picture = mark_boundaries(rgb, labels, color=color, mode=mode)
    if ax is None:
        return picture
    return ax.imshow(picture, interpolation="nearest")


def _check_pair(image, labels):
    """``image`` and ``labels`` as arrays: a 2-D grey or (M, N, 3|4) colour image and
    (M, N) labels."""
    image = np.asarray(image)
    labels = np.asarray(labels)
    if image.shape[:2] != labels.shape or image.ndim not in (2, 3) or (
        image.ndim == 3 and image.shape[-1] not in (3, 4)
    ):
        raise ValueError(
            f"image of shape {image.shape} does not match labels of shape {labels.shape}; "
            "pass a 2-D grey image or an (M, N, 3|4) colour image with (M, N) labels "
            "(for a volume, one slice of each)."
        )
    return image, labels


def _to_unit_range(image):
    """Grey or colour image -> float in [0, 1], alpha dropped.

    uint8 is divided by 255; anything else (uint16, float of any range) is
    stretched from its minimum to its maximum.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    if image.dtype == np.uint8:
        return image / 255.0
    image = image.astype(np.float64)
    low, high = float(image.min()), float(image.max())
    if high > low:
        return (image - low) / (high - low)
    return np.zeros_like(image)


def _has_display():
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))

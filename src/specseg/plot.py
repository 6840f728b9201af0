"""Pictures of segmentations. matplotlib is imported only inside these functions."""

from __future__ import annotations

import numpy as np

__all__ = ["figure"]


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

    image = np.asarray(image)
    labels = np.asarray(labels)
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
    left.imshow(image, cmap=cmap if image.ndim == 2 else None, interpolation="nearest")
    right.imshow(labels, cmap=cmap, interpolation="nearest")
    for ax in (left, right):
        ax.axis("off")
    fig.subplots_adjust(wspace=0, hspace=0.0, top=0.99, bottom=0.01, left=0.01, right=0.99)
    return fig


def _has_display():
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))

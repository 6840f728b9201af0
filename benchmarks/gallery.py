"""Make the figures of docs/gallery/: ``python benchmarks/gallery.py``.

Figures: the seed example (four circles), real photographs from
``skimage.data`` (coins, astronaut) segmented in each mode, and slices of a 3-D
volume. Each PNG is kept small (downsampled display, 80 dpi).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data  # noqa: E402
from skimage.segmentation import mark_boundaries  # noqa: E402

import specseg  # noqa: E402
from specseg.datasets import balls, four_circles  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "gallery"
DPI = 80


def _panel(ax, image, labels, title):
    shown = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1)
    shown = (shown - shown.min()) / max(np.ptp(shown), 1e-12)
    ax.imshow(mark_boundaries(shown, np.maximum(labels, 0), color=(1, 0.2, 0.2)))
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def _save(fig, name):
    path = OUT / name
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    print(f"{path.relative_to(OUT.parents[1])}: {path.stat().st_size // 1024} KB")


def seed_figure():
    image, mask, truth = four_circles(100, noise=0.2, random_state=0)
    labels = specseg.segment(image, 4, mask=mask, random_state=0)
    ari = specseg.metrics.adjusted_rand_score(truth[mask], labels[mask])
    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("four noisy circles (the seed)", fontsize=9)
    axes[0].set_axis_off()
    axes[1].imshow(np.ma.masked_less(labels, 0), cmap="tab10", vmin=0, vmax=9)
    axes[1].set_title(f"segment(image, 4, mask=mask), ARI {ari:.3f}", fontsize=9)
    axes[1].set_axis_off()
    _save(fig, "seed.png")


def photo_figure(name, image, n_segments, channel_axis):
    runs = [
        ("pixels", dict(mode="pixels")),
        ("regions", dict(mode="regions")),
        ("regions, auto k", dict(mode="regions")),
        ("contours", dict(mode="contours")),
    ]
    small = image[::2, ::2] if image.shape[0] > 300 else image
    fig, axes = plt.subplots(1, len(runs), figsize=(3.2 * len(runs), 3.4))
    for ax, (title, kwargs) in zip(axes, runs, strict=True):
        k = "auto" if "auto" in title else n_segments
        source = small if kwargs["mode"] == "pixels" else image
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels, info = specseg.segment(source, k, channel_axis=channel_axis,
                                           return_info=True, **kwargs)
        elapsed = time.perf_counter() - start
        if source is small and small is not image:
            labels = np.kron(labels, np.ones((2, 2), int))[: image.shape[0], : image.shape[1]]
        _panel(ax, image, labels, f"{title}: k={info['n_segments']}, {elapsed:.1f} s")
    _save(fig, f"{name}.png")


#: The photographs of the hierarchy figure and the thresholds shown for each.
HIERARCHY_PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "coins")
HIERARCHY_THRESHOLDS = (0.4, 0.6, 0.8)


def hierarchy_figure(name):
    """A photograph's contour map and its hierarchy cut at three thresholds."""
    image = getattr(data, name)()
    channel_axis = -1 if image.ndim == 3 else None
    start = time.perf_counter()
    h = specseg.hierarchy(image, channel_axis=channel_axis)
    elapsed = time.perf_counter() - start
    fig, axes = plt.subplots(1, 2 + len(HIERARCHY_THRESHOLDS), figsize=(3.0 * 5, 3.2))
    axes[0].imshow(image, cmap=None if channel_axis is not None else "gray")
    axes[0].set_title(f"{name} {image.shape[1]} x {image.shape[0]}", fontsize=9)
    axes[1].imshow(h.ucm, cmap="gray_r", vmin=0, vmax=max(float(h.ucm.max()), 1e-6))
    axes[1].set_title(f"contour map (UCM), {elapsed:.1f} s", fontsize=9)
    for ax in axes[:2]:
        ax.set_axis_off()
    for ax, t in zip(axes[2:], HIERARCHY_THRESHOLDS, strict=True):
        labels = h.cut(threshold=t)
        _panel(ax, image, labels, f"threshold {t}: {labels.max() + 1} segments")
    _save(fig, f"hierarchy-{name}.png")


def volume_figure():
    volume, truth = balls(64, n_balls=4, noise=0.1, random_state=0)
    labels, info = specseg.segment(volume, 5, return_info=True)
    ari = specseg.metrics.adjusted_rand_score(truth, labels)
    slices = [16, 32, 48]
    fig, axes = plt.subplots(2, len(slices), figsize=(7.5, 5))
    for col, z in enumerate(slices):
        axes[0, col].imshow(volume[z], cmap="gray")
        axes[0, col].set_title(f"slice {z}", fontsize=9)
        axes[0, col].set_axis_off()
        _panel(axes[1, col], volume[z], labels[z], f"segments, slice {z}")
    fig.suptitle(f"balls(64): 64³ volume, mode {info['mode']!r}, ARI {ari:.3f}", fontsize=10)
    _save(fig, "volume.png")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    seed_figure()
    photo_figure("coins", data.coins(), 8, None)
    photo_figure("astronaut", data.astronaut(), 8, -1)
    volume_figure()
    for name in HIERARCHY_PHOTOS:
        hierarchy_figure(name)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=f"Make the figures of docs/gallery/ (overwrites the PNGs in {OUT})."
    )
    parser.add_argument("--hierarchy", action="store_true",
                        help="make only the hierarchy figures")
    args = parser.parse_args()  # --help, or an unknown option, stops before any figure
    if args.hierarchy:
        OUT.mkdir(parents=True, exist_ok=True)
        for photo in HIERARCHY_PHOTOS:
            hierarchy_figure(photo)
        sys.exit(0)
    sys.exit(main())

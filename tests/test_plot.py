"""specseg.plot: overlay and figure; matplotlib is imported only when plotting."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from specseg.plot import figure, overlay

SRC = str(Path(__file__).resolve().parents[1] / "src")


def halves(dtype=np.uint8, top=200):
    image = np.zeros((10, 12), dtype=dtype)
    image[:, 6:] = top
    labels = np.zeros((10, 12), dtype=int)
    labels[:, 6:] = 1
    return image, labels


def test_overlay_marks_boundaries():
    image, labels = halves()
    picture = overlay(image, labels)
    assert picture.shape == (10, 12, 3) and picture.dtype == np.float64
    assert 0 <= picture.min() and picture.max() <= 1
    boundary = np.all(picture == [1, 1, 0], axis=-1)
    assert boundary[:, 5:7].any() and not boundary[:, :4].any() and not boundary[:, 8:].any()


@pytest.mark.parametrize("image", [
    halves(np.uint16, 60000)[0],
    halves(np.float32, -3.5)[0],
    np.dstack([halves()[0]] * 3),
    np.dstack([halves(np.uint16, 60000)[0]] * 4),
])
def test_overlay_any_dtype_and_channels(image):
    picture = overlay(image, halves()[1], color=(1, 0, 0))
    assert picture.shape == (10, 12, 3) and 0 <= picture.min() and picture.max() <= 1
    assert np.all(picture == [1, 0, 0], axis=-1).any()


def test_overlay_mask_edge_is_a_boundary():
    image, labels = halves()
    labels[:3] = -1
    boundary = np.all(overlay(image, labels) == [1, 1, 0], axis=-1)
    assert (boundary[2, :3] | boundary[3, :3]).all() and not boundary[6:, :4].any()


def test_overlay_on_axes_returns_artist():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.image import AxesImage

    fig, ax = plt.subplots()
    artist = overlay(*halves(), ax=ax)
    assert isinstance(artist, AxesImage) and artist.get_array().shape == (10, 12, 3)
    plt.close(fig)


def test_overlay_shape_mismatch():
    image, labels = halves()
    with pytest.raises(ValueError, match="does not match labels"):
        overlay(image, labels[:, :5])
    with pytest.raises(ValueError, match="does not match labels"):
        overlay(np.zeros((10, 12, 5)), labels)


@pytest.mark.parametrize("image, labels", [
    (np.zeros((10, 12)), np.zeros((10, 5), int)),       # labels of another image
    (np.zeros((3, 10, 12)), np.zeros((3, 10, 12), int)),  # a volume, not a slice
])
def test_figure_shape_mismatch(image, labels):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    with pytest.raises(ValueError, match="does not match labels"):
        figure(image, labels)
    assert plt.get_fignums() == before  # refused before a figure was made


def test_figure_two_panels_colour_uint16():
    import matplotlib.pyplot as plt

    image = np.dstack([halves(np.uint16, 60000)[0]] * 3)
    fig = figure(image, halves()[1])
    assert len(fig.axes) == 2
    plt.close(fig)


def test_import_specseg_does_not_import_matplotlib():
    code = ("import sys, specseg; specseg.io; specseg.plot; "
            "heavy = [m for m in ('matplotlib', 'PIL', 'tifffile', 'tqdm') if m in sys.modules]; "
            "print(heavy)")
    env = dict(os.environ, PYTHONPATH=SRC)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def two_region_image(shape=(20, 24), contrast=1.0, noise=0.05, seed=0):
    """Left half dark, right half bright, with seeded noise."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape)
    image[..., shape[-1] // 2 :] = contrast
    return image + noise * rng.standard_normal(shape)


def read_label_file(path):
    """A label file read back with the library its format calls for (not specseg's reader)."""
    import tifffile
    from PIL import Image

    name = str(path)
    if name.endswith(".npy"):
        return np.load(path)
    if name.endswith(".png"):
        return np.asarray(Image.open(path))
    return tifffile.imread(path)

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

"""A pytest plugin that puts specseg's ``SpectralEmbedding`` in scikit-learn's place.

Loaded with ``-p sklearn_embedding_swap`` when pytest runs scikit-learn's own
test module for spectral embedding (``--pyargs
sklearn.manifold.tests.test_spectral_embedding``, from the installed wheel):
before that module is imported, ``SpectralEmbedding`` in ``sklearn.manifold``
(and in ``sklearn.manifold._spectral_embedding``) becomes specseg's, so every
test of the estimator there runs on specseg. The function
``sklearn.manifold.spectral_embedding`` stays scikit-learn's: specseg's
``spectral_embedding`` has a different signature on purpose. Each fit is
counted and the counts are written to the JSON file named by
``SPECSEG_SWAP_REPORT``, so the caller can see that specseg really ran.
"""

import json
import os

import sklearn.manifold
import sklearn.manifold._spectral_embedding

import specseg

CALLS = {"SpectralEmbedding.fit": 0}


class SpectralEmbedding(specseg.SpectralEmbedding):
    """specseg's estimator, its fits counted."""

    def fit(self, X, y=None):
        CALLS["SpectralEmbedding.fit"] += 1
        return super().fit(X, y)


def pytest_configure(config):
    for module in (sklearn.manifold, sklearn.manifold._spectral_embedding):
        module.SpectralEmbedding = SpectralEmbedding


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("SPECSEG_SWAP_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(CALLS, f)

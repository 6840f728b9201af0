"""A pytest plugin that puts specseg's engine in scikit-learn's place.

Loaded with ``-p sklearn_engine_swap`` when pytest runs scikit-learn's own test
module for spectral clustering (``--pyargs sklearn.cluster.tests.test_spectral``,
from the installed wheel): before that module is imported, ``SpectralClustering``
and ``spectral_clustering`` in ``sklearn.cluster`` (and in
``sklearn.cluster._spectral``) become specseg's, so every test there runs on
specseg. Each call is counted and the counts are written to the JSON file named
by ``SPECSEG_SWAP_REPORT``, so the caller can see that specseg really ran.
"""

import functools
import json
import os

import sklearn.cluster
import sklearn.cluster._spectral

import specseg

CALLS = {"SpectralClustering.fit": 0, "spectral_clustering": 0}


class SpectralClustering(specseg.SpectralClustering):
    """specseg's estimator, its fits counted."""

    def fit(self, X, y=None):
        CALLS["SpectralClustering.fit"] += 1
        return super().fit(X, y)


@functools.wraps(specseg.spectral_clustering)
def spectral_clustering(*args, **kwargs):
    CALLS["spectral_clustering"] += 1
    return specseg.spectral_clustering(*args, **kwargs)


def pytest_configure(config):
    for module in (sklearn.cluster, sklearn.cluster._spectral):
        module.SpectralClustering = SpectralClustering
        module.spectral_clustering = spectral_clustering


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("SPECSEG_SWAP_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(CALLS, f)

"""specseg: image segmentation by spectral clustering (normalized cuts).

The pipeline reads as the data flow::

    image --pixel_graph or region_graph--> Graph --spectral_embedding--> embedding
          --assign_labels--> labels

:func:`segment` runs all of it; :func:`spectral_clustering` is a drop-in for
scikit-learn's on any sparse affinity matrix.
"""

from importlib.metadata import PackageNotFoundError, version

# io and plot import matplotlib/PIL lazily, distributed imports dask only when used
from . import datasets, distributed, io, metrics, plot
from ._assign import assign_labels
from ._clustering import canonical_labels, spectral_clustering
from ._contours import contours
from ._embedding import SpectralWarning, spectral_embedding
from ._graph import Graph, pixel_graph
from ._hierarchy import Hierarchy, hierarchy
from ._memory import estimate_memory
from ._refine import refine_ncut
from ._regions import region_graph
from ._segment import segment
from .metrics import boundary_f1, ncut_value, variation_of_information

#: The estimators import much of scikit-learn (neighbours, kernels, parameter
#: validation); they are loaded on first use so that ``import specseg`` stays light.
_LAZY = {"SpectralClustering": "_estimator", "SpectralEmbedding": "_estimator"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


try:
    __version__ = version("specseg")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "Graph",
    "Hierarchy",
    "SpectralClustering",
    "SpectralEmbedding",
    "SpectralWarning",
    "assign_labels",
    "boundary_f1",
    "canonical_labels",
    "contours",
    "datasets",
    "distributed",
    "estimate_memory",
    "hierarchy",
    "io",
    "metrics",
    "ncut_value",
    "pixel_graph",
    "plot",
    "refine_ncut",
    "region_graph",
    "segment",
    "spectral_clustering",
    "spectral_embedding",
    "variation_of_information",
]

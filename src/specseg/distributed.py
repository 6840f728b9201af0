"""Segmentation of volumes larger than memory, block by block on Dask.

Needs the ``dask`` extra (``pip install 'specseg[dask]'``): dask.array,
dask.distributed and zarr. Everything runs on whatever Dask scheduler is
active, from the local threads to a ``LocalCluster`` on a laptop or a
``dask.distributed.Client`` of a real cluster; specseg starts no workers of
its own. How it works, and how it scales: ``docs/scale-out.md``.

Examples
--------
>>> import dask.array as da
>>> from specseg.datasets import balls
>>> from specseg import distributed
>>> volume, truth = balls(48, n_balls=2, noise=0.05, random_state=0)
>>> labels = distributed.segment(da.from_array(volume, chunks=24), 3, random_state=0)
>>> labels.numblocks, labels.dtype
((2, 2, 2), dtype('int32'))
"""

from ._blockwise import block_sizes, estimate_memory, ome_first_level, open_array, segment

__all__ = [
    "block_sizes",
    "estimate_memory",
    "ome_first_level",
    "open_array",
    "segment",
]

"""Image -> graph.

Graph convention
----------------
A graph has one node per pixel (or voxel) inside the mask, numbered in raster
(C) order, or one node per region for region graphs. Its ``affinity`` is a
symmetric SciPy CSR array with ``affinity[i, j] > 0`` the similarity of
neighbouring nodes ``i`` and ``j``; a missing entry means "not connected" and the
diagonal is always empty (no self-loops). Weights lie in (0, 1].

Edge weights
------------
For neighbours ``p`` and ``q`` with intensities ``x_p`` and ``x_q`` (vectors for
colour images), the weight is

.. math::

    w_{pq} = \\exp\\left(-\\beta \\, \\frac{\\lVert x_p - x_q \\rVert}{s}\\right)
             \\cdot \\frac{h}{\\lVert p - q \\rVert}

where ``s`` is a robust scale of the differences over the graph's edges (their
root mean square, so that only edges, never the pixel values themselves, set
it), ``h`` the smallest pixel spacing and ``||p - q||`` the physical distance
between the pixels. For ``connectivity=1`` and unit spacing the spatial factor
is 1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ._validation import (
    check_image,
    check_mask,
    check_option,
    check_positive_float,
    check_spacing,
    fill_no_data,
)

__all__ = ["Graph", "pixel_graph"]


@dataclass(frozen=True, eq=False)
class Graph:
    """A weighted graph over the pixels or regions of an image.

    Parameters
    ----------
    affinity : (n_nodes, n_nodes) scipy.sparse.csr_array
        Symmetric non-negative affinities, no self-loops.
    shape : tuple of int
        Spatial shape of the image the graph was built from.
    mask : (M, N[, P]) ndarray of bool or None
        Pixels that are nodes (None: all pixels). Used when ``node_map`` is None.
    node_map : (M, N[, P]) ndarray of int or None
        For region graphs: the node index of every pixel (-1 for none).
    scale : float
        The intensity scale ``s`` used for the weights (for reports).

    Examples
    --------
    >>> g = pixel_graph(np.zeros((2, 3)))
    >>> g
    Graph(shape=(2, 3), n_nodes=6, n_edges=7)
    >>> g.to_image(np.arange(6))
    array([[0, 1, 2],
           [3, 4, 5]])
    """

    affinity: sparse.csr_array
    shape: tuple
    mask: np.ndarray | None = None
    node_map: np.ndarray | None = None
    scale: float = 1.0

    @property
    def n_nodes(self):
        """Number of nodes."""
        return self.affinity.shape[0]

    @property
    def n_edges(self):
        """Number of undirected edges."""
        return self.affinity.nnz // 2

    def __repr__(self):
        return (
            f"{type(self).__name__}(shape={tuple(self.shape)}, n_nodes={self.n_nodes}, "
            f"n_edges={self.n_edges})"
        )

    def to_image(self, labels, *, fill=-1):
        """Put per-node ``labels`` back into image space (``fill`` outside the mask)."""
        labels = np.asarray(labels)
        if labels.shape != (self.n_nodes,):
            raise ValueError(
                f"labels must have one entry per node ({self.n_nodes}), got shape {labels.shape}."
            )
        if self.node_map is not None:
            out = np.where(self.node_map >= 0, labels[np.maximum(self.node_map, 0)], fill)
            return out.astype(np.result_type(labels.dtype, np.min_scalar_type(fill)))
        out = np.full(self.shape, fill, dtype=np.result_type(labels.dtype, np.int8))
        if self.mask is None:
            out.reshape(-1)[:] = labels
        else:
            out[self.mask] = labels
        return out


def _neighbour_offsets(ndim, connectivity):
    """Half of the neighbourhood: offsets whose first nonzero entry is positive."""
    offsets = []
    for off in itertools.product((-1, 0, 1), repeat=ndim):
        nonzero = [o for o in off if o != 0]
        if not nonzero or nonzero[0] < 0:
            continue
        if len(nonzero) <= connectivity:
            offsets.append(off)
    return offsets


def _pair_slices(offset):
    """Slices selecting (p, p + offset) pairs inside the array."""
    src, dst = [], []
    for o in offset:
        if o > 0:
            src.append(slice(0, -o))
            dst.append(slice(o, None))
        elif o < 0:
            src.append(slice(-o, None))
            dst.append(slice(0, o))
        else:
            src.append(slice(None))
            dst.append(slice(None))
    return tuple(src), tuple(dst)


def _edge_differences(image, mask, connectivity, spacing, offsets=None):
    """Yield ``(src_nodes, dst_nodes, difference, distance)`` for each offset."""
    shape = image.shape[:-1]
    if mask is None:
        index = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    else:
        index = np.full(shape, -1, dtype=np.int64)
        index[mask] = np.arange(int(mask.sum()))
    if offsets is None:
        offsets = _neighbour_offsets(len(shape), connectivity)
    for offset in offsets:
        src, dst = _pair_slices(offset)
        diff = image[src] - image[dst]
        diff = np.sqrt(np.einsum("...c,...c->...", diff, diff))
        i, j = index[src], index[dst]
        if mask is not None:
            keep = mask[src] & mask[dst]
            i, j, diff = i[keep], j[keep], diff[keep]
        distance = float(np.sqrt(sum((o * h) ** 2 for o, h in zip(offset, spacing, strict=True))))
        yield i.ravel(), j.ravel(), diff.ravel(), distance


def edge_scale(differences):
    """Robust scale of the edge differences: their root mean square.

    Zero differences (a constant image) give a scale of 1, so weights stay finite.
    """
    if differences.size == 0:
        return 1.0
    scale = float(np.sqrt(np.mean(np.square(differences))))
    return scale if scale > 0 else 1.0


SCALES = ("rms", "median")


def pixel_graph(
    image,
    *,
    mask=None,
    channel_axis=None,
    connectivity=1,
    beta=1.0,
    spacing=None,
    colour_space="input",
    scale="rms",
    radius=None,
    edge_weight=0.0,
):
    """Build the pixel affinity graph of a 2-D or 3-D image.

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        Grey or multichannel image; any real dtype (arithmetic is in float64).
    mask : (M, N[, P]) array_like of bool, optional
        Only pixels where the mask is nonzero become nodes.
    channel_axis : int, optional
        Axis of ``image`` holding the channels. None means single-channel: an RGB
        image must say ``channel_axis=-1``, it is never a 3-D volume.
    connectivity : int, optional
        1 for face neighbours (4 in 2-D, 6 in 3-D); ``ndim`` for the full
        neighbourhood (8 / 26), whose diagonal edges are weighted by inverse distance.
    beta : float, optional
        Sharpness of the intensity kernel (larger: boundaries cut more easily).
    spacing : sequence of float, optional
        Physical pixel size along each spatial axis (default 1).
    colour_space : {"input", "lab", "auto"}, optional
        "input" compares the channels as given; "lab" (and "auto" for
        3-channel images) converts RGB to CIELAB first (see
        :func:`specseg._features.image_features`), which compares colours as
        people see them and separates hues of equal brightness. "lab" needs 3
        channels.
    scale : {"rms", "median"}, optional
        How the intensity scale ``s`` is computed from the edge differences:
        their root mean square, or their median (more robust: a few strong
        boundaries do not inflate it). Both are 1 for a constant image.
    radius : float, optional
        Shi & Malik's neighbourhood: connect every pair of pixels closer than
        ``radius`` (in units of the smallest spacing) and multiply the
        intensity term by the spatial term ``exp(-(||p - q|| / h)^2 / radius^2)``
        instead of ``h / ||p - q||``. Overrides ``connectivity``.
    edge_weight : float, optional
        Weight of an edge (intervening contour) term: each affinity is
        multiplied by ``exp(-edge_weight * g / g_s)`` with ``g`` the largest
        gradient magnitude at the two ends of the edge and ``g_s`` the median
        gradient magnitude. 0 (default) turns the term off.

    Returns
    -------
    graph : Graph
        The affinity graph, its spatial shape and its mask.

    Notes
    -----
    The weight of the edge between neighbours ``p`` and ``q`` is
    ``exp(-beta * ||x_p - x_q|| / s) * h / ||p - q||`` where ``s`` is the root
    mean square of ``||x_p - x_q||`` over all edges of the graph. Multiplying the
    image by a positive constant therefore leaves the graph unchanged.

    Examples
    --------
    >>> image = np.array([[0, 0, 9], [0, 0, 9]], dtype=np.uint8)
    >>> g = pixel_graph(image)
    >>> g.n_nodes, g.n_edges
    (6, 7)
    >>> float(g.affinity[0, 1]), round(float(g.affinity[1, 2]), 3)
    (1.0, 0.154)
    """
    image = check_image(fill_no_data(image, mask, channel_axis), channel_axis=channel_axis)
    shape = image.shape[:-1]
    ndim = len(shape)
    mask = check_mask(mask, shape)
    beta = check_positive_float("beta", beta, allow_zero=True)
    check_option("colour space", colour_space, ("input", "lab", "auto"))
    check_option("scale", scale, SCALES)
    edge_weight = check_positive_float("edge_weight", edge_weight, allow_zero=True)
    if radius is not None:
        radius = check_positive_float("radius", radius)
    if isinstance(connectivity, bool) or connectivity not in range(1, ndim + 1):
        raise ValueError(
            f"connectivity must be an integer from 1 to {ndim} for a {ndim}-D image, "
            f"got {connectivity!r}."
        )
    spacing = check_spacing(spacing, ndim)
    n_nodes = int(np.prod(shape)) if mask is None else int(mask.sum())
    if colour_space == "lab" or (colour_space == "auto" and image.shape[-1] == 3):
        from ._features import image_features

        image = image_features(image, colour_space="lab")
    image, exponent = _moderate_magnitude(image, mask)
    h = min(spacing)
    offsets = None if radius is None else _radius_offsets(ndim, radius, spacing, h)
    parts = list(_edge_differences(image, mask, connectivity, spacing, offsets=offsets))
    all_diffs = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    if scale == "rms":
        scale = edge_scale(all_diffs)
    else:
        positive = all_diffs[all_diffs > 0]
        scale = float(np.median(positive)) if positive.size else 1.0
    if edge_weight > 0:
        gradient = _gradient_magnitude(image)
        g_flat = gradient.ravel() if mask is None else gradient[mask]
        g_scale = float(np.median(g_flat[g_flat > 0])) if (g_flat > 0).any() else 1.0
    rows, cols, weights = [], [], []
    for i, j, diff, distance in parts:
        w = np.exp(diff * (-beta / scale))
        if radius is not None:
            w *= np.exp(-((distance / h) ** 2) / radius**2)
        elif distance != h:
            w *= h / distance
        if edge_weight > 0:
            g = np.maximum(g_flat[i], g_flat[j])
            w *= np.exp(g * (-edge_weight / g_scale))
        rows.append(i)
        cols.append(j)
        weights.append(np.maximum(w, np.finfo(np.float64).tiny))
    affinity = _symmetric_csr(rows, cols, weights, n_nodes)
    with np.errstate(over="ignore"):  # in the image's units: inf past the float range
        scale = float(np.ldexp(scale, exponent))
    return Graph(affinity=affinity, shape=tuple(shape), mask=mask, scale=scale)


#: Intensities whose magnitude lies beyond this (or below its reciprocal) are
#: scaled by a power of two first: their squared differences would overflow to
#: inf (or underflow to 0, leaving a purely geometric graph).
_SAFE_MAGNITUDE = 2.0**400


def _moderate_magnitude(image, mask):
    """``(image * 2**-e, e)``, the largest magnitude inside the mask brought near 1,
    where it lies outside ``[1 / _SAFE_MAGNITUDE, _SAFE_MAGNITUDE]``; else ``(image, 0)``.

    A power of two changes no mantissa, so the weights are those of the image
    as given; images of ordinary magnitude are returned untouched.

    Examples
    --------
    >>> _moderate_magnitude(np.array([[1.0, 3.0]]), None)[1]
    0
    >>> scaled, e = _moderate_magnitude(np.array([[1e300, 3e300]]), None)
    >>> e, bool(np.all(np.ldexp(scaled, e) == [[1e300, 3e300]]))
    (999, True)
    """
    peak = max(-float(image.min()), float(image.max()))
    if peak == 0 or 1 / _SAFE_MAGNITUDE <= peak <= _SAFE_MAGNITUDE:
        return image, 0
    if mask is not None:  # only differences inside the mask are taken
        inside = image[mask]
        peak = max(-float(inside.min()), float(inside.max()))
        if peak == 0 or 1 / _SAFE_MAGNITUDE <= peak <= _SAFE_MAGNITUDE:
            return image, 0
    exponent = int(np.frexp(peak)[1])
    return np.ldexp(image, -exponent), exponent


def _radius_offsets(ndim, radius, spacing, h):
    """Half of the offsets within physical distance ``radius * h``."""
    reach = [int(np.floor(radius * h / s)) for s in spacing]
    offsets = []
    for off in itertools.product(*[range(-r, r + 1) for r in reach]):
        nonzero = [o for o in off if o != 0]
        if not nonzero or nonzero[0] < 0:
            continue
        distance = np.sqrt(sum((o * s) ** 2 for o, s in zip(off, spacing, strict=True)))
        if distance <= radius * h:
            offsets.append(off)
    return offsets


def _gradient_magnitude(image):
    """Gradient magnitude of a ``(..., C)`` image, summed over channels."""
    from scipy import ndimage

    total = np.zeros(image.shape[:-1])
    for c in range(image.shape[-1]):
        for axis in range(image.ndim - 1):
            total += ndimage.sobel(image[..., c], axis=axis) ** 2
    return np.sqrt(total)


def _symmetric_csr(rows, cols, weights, n_nodes):
    """CSR array holding each listed edge in both directions."""
    if rows:
        i = np.concatenate(rows + cols)
        j = np.concatenate(cols + rows)
        w = np.concatenate(weights + weights)
    else:
        i = j = np.zeros(0, dtype=np.int64)
        w = np.zeros(0)
    index_dtype = np.int32 if n_nodes < 2**31 - 1 and i.size < 2**31 - 1 else np.int64
    coo = sparse.coo_array(
        (w, (i.astype(index_dtype), j.astype(index_dtype))), shape=(n_nodes, n_nodes)
    )
    affinity = coo.tocsr()
    affinity.sort_indices()
    return affinity

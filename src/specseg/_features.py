"""Image -> per-pixel features: scale-free colour, and the local boundary cues.

The boundary cues are the brightness, colour and texture gradients of Martin,
Fowlkes & Malik [1]_ and Arbeláez et al. [2]_, computed in a form that is cheap
and steerable.

Histogram gradients
-------------------
Pb compares the histograms ``g`` and ``h`` of a channel in the two halves of a
disc split at orientation ``theta`` by the chi-squared distance
``sum_b (g_b - h_b)^2 / (g_b + h_b)``. Here the half-disc difference is replaced by
the Gaussian derivative of the smoothed bin maps ``H_b = G_sigma * [c(x) in b]``
across the orientation, ``d_theta H_b = cos(theta) d_x H_b + sin(theta) d_y H_b``,
and the half-disc sum by ``H_b`` itself, so that

.. math::

    \\chi^2(x, \\theta) = \\sum_b \\frac{(\\partial_\\theta H_b)^2}{H_b + \\epsilon}
    = u^T S u, \\qquad
    S = \\sum_b \\frac{\\nabla H_b \\nabla H_b^T}{H_b + \\epsilon},
    \\quad u = (\\cos\\theta, \\sin\\theta)

is a quadratic form in the direction: a *histogram structure tensor*. Its
largest eigenvalue is the gradient at the best orientation and its
eigenvector that orientation, for every orientation at the cost of one
smoothing per bin. Bins are soft (linear interpolation between bin centres),
so the cue varies smoothly with the channel values.

Channels: CIELAB ``L*``, ``a*`` and ``b*`` on fixed ranges (so a threshold
means the same on every image), and *textons*: each pixel's responses to a
small bank of Gaussian-derivative filters, assigned to the nearest of a set of
cluster centres fitted on training photographs (``specseg/data/contours.npz``,
made by ``benchmarks/train_contours.py``).

References
----------
.. [1] D. R. Martin, C. C. Fowlkes and J. Malik, "Learning to detect natural
       image boundaries using local brightness, color, and texture cues",
       IEEE TPAMI 26(5), 2004. :doi:`10.1109/TPAMI.2004.1273918`
.. [2] P. Arbeláez, M. Maire, C. Fowlkes and J. Malik, "Contour detection and
       hierarchical image segmentation", IEEE TPAMI 33(5), 2011.
       :doi:`10.1109/TPAMI.2010.161`
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["block_reduce", "cue_features", "filter_bank", "image_features", "lab_channels"]

#: Fixed value ranges of the CIELAB channels binned by the colour cues
#: (L* in [0, 100]; a* and b* of natural photographs rarely leave [-60, 80]).
LAB_RANGES = ((0.0, 100.0), (-60.0, 80.0), (-60.0, 80.0))
#: Soft bins per CIELAB channel.
LAB_BINS = 12
#: Smoothing scales (pixels) of the histogram gradients.
CUE_SIGMAS = (1.5, 3.0, 6.0, 12.0)
#: Grid coarsening used at each of those scales (the coarse sigma stays 1.5).
CUE_FACTORS = (1, 2, 4, 8)
#: Scales of the mean (plain) gradients of L*, a*, b*.
MEAN_SIGMAS = (1.0, 2.0, 4.0)
#: Scales of the texton filter bank.
BANK_SIGMAS = (1.0, 2.0)
EPS = 1e-3


def image_features(image, *, colour_space="auto"):
    """Scale-free features of a validated ``(..., C)`` image, channels last.

    Colour (``C == 3`` and ``colour_space`` "auto" or "lab"): the image is
    divided by its maximum (so uint8, float and scaled copies agree), converted
    to CIELAB and divided by 100. Otherwise every channel is shifted and scaled
    so that its 1st and 99th percentiles map to 0 and 1 (a constant channel
    maps to 0).

    Examples
    --------
    >>> grey = np.linspace(0, 10, 12).reshape(3, 4, 1)
    >>> f = image_features(grey)
    >>> f.shape, bool(f.min() < 0.01), bool(f.max() > 0.99)
    ((3, 4, 1), True, True)
    """
    n_channels = image.shape[-1]
    if colour_space == "lab" and n_channels != 3:
        raise ValueError(
            f"colour_space='lab' needs a 3-channel (RGB) image, got {n_channels} channels."
        )
    if n_channels == 3 and colour_space in ("auto", "lab"):
        from skimage.color import rgb2lab

        return rgb2lab(_unit_range(image)) / 100.0
    flat = image.reshape(-1, n_channels)
    low, high = np.percentile(flat, [1, 99], axis=0)
    span = high - low
    flat_span = flat.max(axis=0) - flat.min(axis=0)
    span = np.where(span > 0, span, flat_span)
    span = np.where(span > 0, span, 1.0)
    return (image - low) / span


def _unit_range(image):
    """``image`` divided by its maximum, after shifting a negative minimum to 0.

    So uint8, float and scaled copies of one picture agree.
    """
    low = min(float(image.min()), 0.0)
    span = float(image.max()) - low
    shifted = image - low
    return shifted / span if span > 0 else shifted


def block_reduce(image, factor, reduce, *, ndim=2):
    """``reduce`` (e.g. ``np.mean``, ``np.max``) over blocks of side ``factor``.

    The first ``ndim`` axes are the spatial ones (any further axes, such as
    channels, are kept); the last partial blocks are filled by repeating the
    edge.

    Examples
    --------
    >>> block_reduce(np.arange(6.0).reshape(2, 3), 2, np.max)
    array([[4., 5.]])
    >>> block_reduce(np.ones((3, 4, 5, 2)), 2, np.mean, ndim=3).shape
    (2, 2, 3, 2)
    """
    shape = image.shape[:ndim]
    pad = [(0, -n % factor) for n in shape] + [(0, 0)] * (image.ndim - ndim)
    padded = np.pad(image, pad, mode="edge")
    split = []
    for n in padded.shape[:ndim]:
        split += [n // factor, factor]
    blocks = padded.reshape(split + list(padded.shape[ndim:]))
    return reduce(blocks, axis=tuple(range(1, 2 * ndim, 2)))


def lab_channels(image):
    """CIELAB ``(L*, a*, b*)`` of a validated 2-D ``(M, N, C)`` image, float32.

    A colour image (3 channels) is divided by its maximum and converted; a grey
    one (1 channel) is scaled by its maximum to ``L*`` in [0, 100] with ``a* =
    b* = 0``. Other channel counts use their mean as grey.

    Examples
    --------
    >>> L, a, b = lab_channels(np.array([[0.0, 0.25], [0.5, 0.5]])[..., None])
    >>> float(L[0, 1]), float(L[1, 1]), float(a.max()), float(b.max())
    (50.0, 100.0, 0.0, 0.0)
    """
    scaled = _unit_range(np.asarray(image, dtype=np.float64))
    if scaled.shape[-1] == 3:
        from skimage.color import rgb2lab

        lab = rgb2lab(scaled).astype(np.float32)
        return lab[..., 0], lab[..., 1], lab[..., 2]
    grey = (100.0 * scaled.mean(axis=-1)).astype(np.float32)
    zero = np.zeros_like(grey)
    return grey, zero, zero.copy()


def filter_bank(L):
    """Responses of ``L* / 100`` to the texton filter bank, ``(M, N, F)`` float32.

    Per scale in ``BANK_SIGMAS``: the first derivatives in x and y, the three
    second derivatives, and a centre-surround (Laplacian of Gaussian) filter.
    """
    grey = (L / 100.0).astype(np.float32)
    responses = []
    for sigma in BANK_SIGMAS:
        for order in ((0, 1), (1, 0), (0, 2), (1, 1), (2, 0)):
            responses.append(sigma ** sum(order) * ndimage.gaussian_filter(grey, sigma, order))
        responses.append(sigma**2 * ndimage.gaussian_laplace(grey, sigma))
    return np.stack(responses, axis=-1)


def assign_textons(responses, centres):
    """Nearest centre of every filter response vector, ``(M, N)`` int."""
    flat = responses.reshape(-1, responses.shape[-1])
    distance = (
        -2.0 * flat @ centres.T + np.einsum("ij,ij->i", centres, centres)[None, :]
    )
    return np.argmin(distance, axis=1).reshape(responses.shape[:-1])


def soft_bins(channel, low, high, n_bins):
    """Soft (linear) bin memberships of a channel, ``(n_bins, M, N)`` float32."""
    position = (np.clip(channel, low, high) - low) * np.float32((n_bins - 1) / (high - low))
    centres = np.arange(n_bins, dtype=np.float32)[:, None, None]
    return np.maximum(0.0, 1.0 - np.abs(position[None] - centres), dtype=np.float32)


def hard_bins(codes, n_bins):
    """One-hot memberships of integer codes, ``(n_bins, M, N)`` float32."""
    bins = np.zeros((n_bins, *codes.shape), dtype=np.float32)
    rows, cols = np.indices(codes.shape)
    bins[codes, rows, cols] = 1.0
    return bins


def _pool2(stack):
    """Means over 2 x 2 blocks of the last two axes (an odd edge is repeated)."""
    m, n = stack.shape[-2:]
    if m % 2 or n % 2:
        pad = [(0, 0)] * (stack.ndim - 2) + [(0, m % 2), (0, n % 2)]
        stack = np.pad(stack, pad, mode="edge")
    total = stack[..., 0::2, 0::2] + stack[..., 1::2, 0::2]
    total += stack[..., 0::2, 1::2]
    total += stack[..., 1::2, 1::2]
    total *= 0.25
    return total


def _interpolation(n_fine, factor, n_coarse):
    """Indices and weights of linear interpolation from block centres to pixels."""
    position = (np.arange(n_fine, dtype=np.float32) + 0.5) / factor - 0.5
    position = np.clip(position, 0, n_coarse - 1)
    lower = np.minimum(position.astype(np.intp), max(n_coarse - 2, 0))
    upper = np.minimum(lower + 1, n_coarse - 1)
    return lower, upper, (position - lower).astype(np.float32)


def _upsample(image, factor, shape):
    """Linear interpolation of a coarse grid back to ``shape`` (block centres aligned)."""
    if factor == 1:
        return image
    lo, hi, w = _interpolation(shape[0], factor, image.shape[0])
    rows = image[lo] * (1.0 - w)[:, None] + image[hi] * w[:, None]
    lo, hi, w = _interpolation(shape[1], factor, image.shape[1])
    return rows[:, lo] * (1.0 - w) + rows[:, hi] * w


def _tensor_sums(smooth, sigma):
    """``(Sxx, Sxy, Syy)`` summed over the bins of smoothed bin maps."""
    gy, gx = np.gradient(smooth, axis=(1, 2))
    # A one-pixel derivative of a map smoothed at sigma is the half-disc
    # difference divided by about the radius: scale it back to a difference.
    gx *= sigma
    gy *= sigma
    weight = 1.0 / (smooth + EPS)
    gxw = gx * weight
    gx *= gxw
    gy *= weight * gy
    gxw *= gy
    return gx.sum(axis=0), gxw.sum(axis=0), gy.sum(axis=0)


def histogram_tensor(bins, sigma):
    """The histogram structure tensor ``(Sxx, Sxy, Syy)`` of bin maps at one scale.

    Bins are processed in fixed chunks on all threads; the chunks' sums are
    added in order, so the result does not depend on the number of threads.
    """
    from ._parallel import map_chunks

    def work(a, b):
        smooth = ndimage.gaussian_filter(bins[a:b], (0, sigma, sigma), truncate=3.0)
        return _tensor_sums(smooth, sigma)

    parts = map_chunks(len(bins), work, chunk=4)
    return tuple(np.sum([p[i] for p in parts], axis=0) for i in range(3))


def tensor_strength(sxx, sxy, syy):
    """Largest eigenvalue of symmetric 2 x 2 tensors."""
    return 0.5 * (sxx + syy) + np.sqrt(0.25 * (sxx - syy) ** 2 + sxy**2)


def tensor_angle(sxx, sxy, syy):
    """Direction of the largest eigenvector: radians in [0, pi) from the column axis."""
    return np.mod(0.5 * np.arctan2(2.0 * sxy, sxx - syy), np.pi)


def colour_texture_maps(image, centres):
    """``(L, a, b, textons)`` of a validated 2-D ``(M, N, C)`` image.

    ``L, a, b`` are the CIELAB channels (:func:`lab_channels`), ``textons``
    the index of the nearest of ``centres`` to every pixel's filter-bank
    response (:func:`filter_bank`), ``(M, N)`` int.
    """
    from ._parallel import single_threaded_blas

    L, a, b = lab_channels(image)
    with single_threaded_blas():
        textons = assign_textons(filter_bank(L), centres)
    return L, a, b, textons


def cue_features(image, centres, *, maps=None):
    """Per-pixel boundary cues of a validated 2-D ``(M, N, C)`` image.

    ``maps``, the :func:`colour_texture_maps` of the image, are computed
    when not given.

    Returns
    -------
    features : (M, N, F) float32
        Square roots of the histogram gradients of L*, a*, b* and textons at
        every scale in ``CUE_SIGMAS`` (computed on a grid ``CUE_FACTORS``
        times coarser, where the smoothing is ``CUE_SIGMAS / CUE_FACTORS``),
        then the Gaussian gradient magnitudes of L*, a*, b* at every scale
        in ``MEAN_SIGMAS``.
    angle : (M, N) float
        Direction of the gradient across the boundary (see
        :func:`tensor_angle`) of the summed tensors of all cues and scales.
    """
    L, a, b, textons = colour_texture_maps(image, centres) if maps is None else maps
    shape = L.shape
    channels = [
        soft_bins(L, *LAB_RANGES[0], LAB_BINS),
        soft_bins(a, *LAB_RANGES[1], LAB_BINS),
        soft_bins(b, *LAB_RANGES[2], LAB_BINS),
        hard_bins(textons, len(centres)),
    ]
    strengths = [[None] * len(CUE_SIGMAS) for _ in channels]
    total = np.zeros((3, *shape), dtype=np.float32)
    for c, bins in enumerate(channels):
        level, level_factor = bins, 1
        for j, (sigma, factor) in enumerate(zip(CUE_SIGMAS, CUE_FACTORS, strict=True)):
            while level_factor < factor:
                level, level_factor = _pool2(level), 2 * level_factor
            tensor = histogram_tensor(level, sigma / factor)
            strength = np.sqrt(np.maximum(tensor_strength(*tensor), 0.0))
            strengths[c][j] = _upsample(strength, factor, shape)
            if factor <= 2:
                for i in range(3):
                    total[i] += _upsample(tensor[i], factor, shape)
    features = [s for row in strengths for s in row]
    for channel in (L / 100.0, a / 100.0, b / 100.0):
        for sigma in MEAN_SIGMAS:
            features.append(sigma * ndimage.gaussian_gradient_magnitude(channel, sigma))
    return np.stack(features, axis=-1).astype(np.float32), tensor_angle(*total)

"""Memory estimate (`estimate_memory`) and the guard in `segment`."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import specseg
from specseg import _memory
from specseg._memory import available_memory, estimate_memory

SRC = str(Path(specseg.__file__).resolve().parent.parent)


def voronoi_scene(shape, n_regions=8, noise=0.1, seed=0):
    """Piecewise-constant cells of random sites plus noise (as benchmarks/_scenes.frame)."""
    rng = np.random.default_rng(seed)
    sites = np.stack([rng.uniform(0, s, n_regions) for s in shape], axis=1)
    grid = np.indices(shape).reshape(len(shape), -1).T
    nearest = np.argmin(((grid[:, None, :] - sites[None]) ** 2).sum(-1), axis=1)
    levels = rng.permutation(np.linspace(0.0, 1.0, n_regions))
    return levels[nearest].reshape(shape) + noise * rng.standard_normal(shape)


def run_child(code, *args):
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": SRC},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


_MEASURE = """
    import json, sys
    import numpy as np

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    import specseg
    image = np.load(sys.argv[1])
    with open("/proc/self/clear_refs", "w") as f:  # ru_maxrss starts at the parent's peak
        f.write("5")
    baseline = status("VmRSS")
    specseg.segment(image, int(sys.argv[2]), mode=sys.argv[3], random_state=0)
    print(json.dumps({"measured": status("VmHWM") - baseline}))
"""


# ------------------------------------------------------------------ the estimate


# below FINE_SOLVE_MAX_NODES (2 M): above it "amg" switches to a leaner path
@pytest.mark.parametrize("shape", [(1024, 1024), (96, 96, 96)])
def test_estimate_grows_linearly_in_pixels(shape):
    small = tuple(s // 2 for s in shape)
    ratio = estimate_memory(shape, 8) / estimate_memory(small, 8)
    factor = 2 ** len(shape)
    assert 0.8 * factor < ratio < 1.2 * factor


def test_estimate_grows_linearly_in_segments():
    shape = (1024, 1024)
    per_segment = [estimate_memory(shape, k) for k in (4, 8, 16, 32)]
    steps = np.diff(per_segment) / np.diff([4, 8, 16, 32])
    assert np.all(steps > 0)
    np.testing.assert_allclose(steps, steps[-1], rtol=0.1)


def test_estimate_needs_only_the_shape():
    huge = np.broadcast_to(np.float32(0), (60000, 60000))  # 14 GB as float32, no memory
    assert estimate_memory(huge, 8) == estimate_memory((60000, 60000), 8, dtype=np.float32)
    assert estimate_memory(huge, 8) > 2**40  # terabytes: refused anywhere


def test_estimate_follows_mask_channels_dtype_and_connectivity():
    shape = (512, 512)
    full = estimate_memory(shape, 8)
    mask = np.zeros(shape, dtype=bool)
    mask[:256] = True
    assert estimate_memory(shape, 8, mask=mask) == estimate_memory(shape, 8, mask_fraction=0.5)
    assert 0.4 * full < estimate_memory(shape, 8, mask_fraction=0.5) < 0.6 * full
    _, grey = estimate_memory(shape, 8, return_stages=True)
    _, colour = estimate_memory(shape + (3,), 8, channel_axis=-1, dtype=np.uint8,
                                return_stages=True)
    assert colour["graph"] > grey["graph"]
    assert estimate_memory(shape, 8, connectivity=2) > full


def test_estimate_stages_and_solvers():
    peak, stages = estimate_memory((512, 512), 8, return_stages=True)
    assert set(stages) == {"graph", "embedding", "assignment", "refinement"}
    assert peak == max(stages.values()) and max(stages, key=stages.get) == "embedding"
    # a dense solve of 262 144 nodes needs two n x n matrices
    assert estimate_memory((512, 512), 8, solver="dense") > 2 * 8 * 512**4


@pytest.mark.parametrize(
    "args, kwargs, error",
    [
        (((5,), 8), {}, ValueError),
        (((4, 4, 4, 4), 8), {}, ValueError),
        (((64, 64), 0), {}, ValueError),
        (((64, 64), 8), {"solver": "fast"}, ValueError),
        (((64, 64), 8), {"connectivity": 3}, ValueError),
        (((64, 64), 8), {"mask_fraction": 0}, ValueError),
        (((64, 64, 3), 8), {"channel_axis": 3}, ValueError),
    ],
)
def test_estimate_refuses_bad_arguments(args, kwargs, error):
    with pytest.raises(error):
        estimate_memory(*args, **kwargs)


@pytest.mark.parametrize("mode, size", [("pixels", 160), ("pixels", 200), ("regions", 400)])
def test_estimate_matches_measured_peak(mode, size, tmp_path):
    """Within the calibration tolerance (docs/memory-table.md): 0.9 to 1.5 of measured.

    The model errs high on purpose; on small jobs its fixed allowances (imports,
    heap fragmentation) are a larger share of the total, hence the upper bound.
    """
    path = tmp_path / "image.npy"
    np.save(path, voronoi_scene((size, size)))
    measured = run_child(_MEASURE, path, 8, mode)["measured"]
    ratio = estimate_memory((size, size), 8, mode=mode) / measured
    assert 0.9 <= ratio <= 1.5, f"estimate / measured = {ratio:.2f}"


def test_available_memory_is_positive():
    available = available_memory()
    assert available is None or available > 0


# ------------------------------------------------------------------ the guard


def test_huge_image_refused_before_any_large_allocation():
    code = """
        import json, resource, time
        import numpy as np
        import specseg

        def maxrss():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

        before = maxrss()
        start = time.perf_counter()
        try:
            specseg.segment(np.broadcast_to(np.float32(0), (60000, 60000)), 8)
            message = None
        except MemoryError as exc:
            message = str(exc)
        print(json.dumps({"seconds": time.perf_counter() - start, "message": message,
                          "grown": maxrss() - before}))
    """
    result = run_child(code)
    assert result["message"] is not None, "no MemoryError"
    assert "memory" in result["message"] and "available" in result["message"]
    assert result["seconds"] < 5
    assert result["grown"] < 50 * 2**20  # the float64 copy alone would be 27 GiB


def test_max_memory_refuses_a_normal_image():
    image = voronoi_scene((64, 64))
    expected = r"needs about .* MiB of memory .* max_memory allows only 1\.0 MiB"
    with pytest.raises(MemoryError, match=expected) as exc:
        specseg.segment(image, 4, max_memory=2**20)
    message = str(exc.value)
    for advice in ("rescale", "mask", "region mode", "check_memory=False"):
        assert advice in message


@pytest.mark.parametrize("mode", ["pixels", "regions", "contours"])
def test_max_memory_refuses_auto_segments_in_every_mode(mode):
    # n_segments="auto" made the estimate raise, and the guard passed silently
    image = voronoi_scene((64, 64))
    with pytest.raises(MemoryError, match='n_segments="auto" needs about'):
        specseg.segment(image, "auto", mode=mode, max_memory=2**10)


def test_contour_mode_refusal_names_the_segments_asked_for():
    # the contour mode's guard said "into 1 segments" whatever was asked
    image = voronoi_scene((64, 64))
    with pytest.raises(MemoryError, match="into 6 segments needs about"):
        specseg.segment(image, 6, mode="contours", max_memory=2**10)


def test_guard_runs_before_the_graph_is_built(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the graph was built")

    monkeypatch.setattr("specseg._segment.pixel_graph", fail)
    with pytest.raises(MemoryError):
        specseg.segment(np.zeros((64, 64), dtype=np.uint8), 4, max_memory=2**20)


def test_check_memory_false_skips_the_guard(monkeypatch):
    monkeypatch.setattr(_memory, "available_memory", lambda: 1)
    image = voronoi_scene((40, 40))
    with pytest.raises(MemoryError):
        specseg.segment(image, 3)
    labels = specseg.segment(image, 3, check_memory=False, max_memory=1)
    assert labels.shape == (40, 40)


def test_guard_passes_when_memory_is_unknown(monkeypatch):
    monkeypatch.setattr(_memory, "available_memory", lambda: None)
    assert specseg.segment(voronoi_scene((20, 20)), 2).shape == (20, 20)


def test_guard_leaves_bad_arguments_to_the_validators():
    with pytest.raises(ValueError, match="2-D or 3-D"):
        specseg.segment(np.zeros(10), 2, max_memory=1)
    with pytest.raises(ValueError, match="mask has shape"):
        specseg.segment(np.zeros((8, 8)), 2, mask=np.ones((4, 4)), max_memory=2**40)


@pytest.mark.parametrize("max_memory", [0, -5, "1GB", True, float("nan")])
def test_bad_max_memory_is_refused(max_memory):
    with pytest.raises(ValueError, match="max_memory"):
        specseg.segment(np.zeros((8, 8)), 2, max_memory=max_memory)


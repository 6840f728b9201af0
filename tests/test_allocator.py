"""The allocator setting is scoped to a job and changes no result."""

import threading

import numpy as np
import pytest

from specseg import _allocator
from specseg._allocator import reuse_freed_memory


def _hugepage_flag():
    flag = _allocator._set_numpy_hugepage(True)
    _allocator._set_numpy_hugepage(flag)
    return flag


@pytest.mark.skipif(_hugepage_flag() is None, reason="NumPy has no huge-page switch")
def test_numpy_setting_is_restored_after_nested_blocks():
    before = _hugepage_flag()
    with reuse_freed_memory():
        assert _hugepage_flag() is False
        with reuse_freed_memory():
            assert _hugepage_flag() is False
        assert _hugepage_flag() is False  # the outer block still holds it
    assert _hugepage_flag() == before


def test_setting_is_restored_when_the_block_raises():
    before = _hugepage_flag()
    with pytest.raises(RuntimeError, match="boom"), reuse_freed_memory():
        raise RuntimeError("boom")
    assert _hugepage_flag() == before
    assert _allocator._depth == 0


def test_concurrent_jobs_share_one_setting():
    before = _hugepage_flag()
    barrier = threading.Barrier(4)
    seen = []

    def job():
        with reuse_freed_memory():
            barrier.wait()
            seen.append(_hugepage_flag())
            barrier.wait()

    threads = [threading.Thread(target=job) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _allocator._depth == 0
    assert _hugepage_flag() == before
    if before is not None:
        assert seen == [False] * 4


def test_large_temporaries_are_unchanged_inside_the_block():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600_000, 8))  # 38 MB: above glibc's mmap threshold
    expected = (x @ x.T[:, :8]).sum()
    with reuse_freed_memory():
        for _ in range(3):
            y = x * 2.0
            del y
        got = (x @ x.T[:, :8]).sum()
    assert got == expected


def test_prefaulted_maps_memory_on_a_helper_thread_and_releases_it():
    from specseg._allocator import prefaulted

    threads_before = threading.active_count()
    with reuse_freed_memory(), prefaulted(_allocator.PREFAULT_MIN_BYTES + 1):
        data = np.arange(1_000_000, dtype=np.float64)
        total = float(data.sum())
    assert total == 499999500000.0
    assert threading.active_count() == threads_before  # the helper has finished
    assert _allocator._depth == 0


def test_prefaulted_does_nothing_outside_a_job_or_for_small_sizes(monkeypatch):
    from specseg._allocator import prefaulted

    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self))
    with prefaulted(10 * _allocator.PREFAULT_MIN_BYTES):  # no job: nothing to reuse it
        pass
    with reuse_freed_memory(), prefaulted(1000):
        pass
    assert started == []


def test_prefaulted_releases_its_memory_when_the_block_raises():
    from specseg._allocator import job_memory

    with pytest.raises(ValueError, match="bad"), job_memory(_allocator.PREFAULT_MIN_BYTES * 2):
        raise ValueError("bad")
    assert _allocator._depth == 0


def test_segment_and_clustering_results_do_not_depend_on_prefaulting(monkeypatch):
    from specseg import spectral_clustering
    from specseg._graph import pixel_graph

    image = np.random.default_rng(1).random((180, 180))
    image[60:120, 60:120] += 1.5
    affinity = pixel_graph(image).affinity  # 32,400 nodes: the "amg" path
    started = []
    real_start = threading.Thread.start

    def start(self):
        started.append(getattr(getattr(self, "_target", None), "__name__", None))
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    monkeypatch.setattr(_allocator, "PREFAULT_MIN_BYTES", 1)  # prefault even this job
    with_prefault = spectral_clustering(affinity, 3, random_state=0)
    assert "map_pieces" in started  # the helper ran
    monkeypatch.setattr(_allocator, "PREFAULT_MIN_BYTES", 2**62)
    without = spectral_clustering(affinity, 3, random_state=0)
    np.testing.assert_array_equal(with_prefault, without)


@pytest.fixture
def recorded_mallopt(monkeypatch):
    """Replace glibc's mallopt and malloc_trim by recorders (no process-wide change)."""
    calls = []
    monkeypatch.setattr(_allocator, "_glibc", lambda: (
        lambda param, value: calls.append((param, value)) or 1,
        lambda pad: calls.append(("trim", pad)) or 1,
    ))
    return calls


def test_exit_restores_the_settings_the_process_started_with(monkeypatch, recorded_mallopt):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what Dask's nanny sets
    monkeypatch.delenv("MALLOC_MMAP_MAX_", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.delenv(_allocator.ENV_SWITCH, raising=False)
    with reuse_freed_memory():
        assert recorded_mallopt == [(_allocator._M_TRIM_THRESHOLD, _allocator._KEEP_BYTES),
                                    (_allocator._M_MMAP_MAX, 0)]
    assert recorded_mallopt[2:] == [(_allocator._M_MMAP_MAX, 65536),
                                    (_allocator._M_TRIM_THRESHOLD, 65536), ("trim", 0)]


def test_tuning_is_off_inside_a_dask_worker_unless_asked_for(monkeypatch, recorded_mallopt):
    monkeypatch.setattr(_allocator, "_dask_worker_memory_limit", lambda: 2 * 2**30)
    monkeypatch.delenv(_allocator.ENV_SWITCH, raising=False)
    before = _hugepage_flag()
    with reuse_freed_memory():
        assert _hugepage_flag() == before
    assert recorded_mallopt == []
    monkeypatch.setenv(_allocator.ENV_SWITCH, "on")
    with reuse_freed_memory():
        pass
    # kept memory is bounded by a quarter of the worker's limit
    assert recorded_mallopt[0] == (_allocator._M_TRIM_THRESHOLD, 2**29)


def test_switch_off_leaves_the_allocator_alone(monkeypatch, recorded_mallopt):
    monkeypatch.setenv(_allocator.ENV_SWITCH, "off")
    with reuse_freed_memory():
        pass
    assert recorded_mallopt == []

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

"""zstd compresses in the calling thread by default; more threads only when asked."""

from __future__ import annotations

import os
import random

from executions.pipeline.compression import make_compressor


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _threads_while_compressing(threads: int) -> int:
    data = random.Random(1).randbytes(4 * 1024 * 1024)
    compressor = make_compressor("zstd", 3, threads)
    compressor.compress(data)
    during = _os_threads()
    compressor.flush()
    return during


def test_the_default_single_thread_setting_starts_no_worker_thread():
    before = _os_threads()
    assert _threads_while_compressing(1) == before


def test_asking_for_two_threads_starts_workers():
    before = _os_threads()
    assert _threads_while_compressing(2) > before

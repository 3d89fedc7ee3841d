"""Host memory of a training process: keep freed tensor buffers for the next step (glibc's allocator).

A CPU training step allocates and frees the same large buffers every step (activations, gradients, the
views of a batch). glibc's ``malloc`` serves buffers above its *mmap threshold* (128 KiB at start, raised
automatically only up to 32 MiB) with fresh ``mmap`` calls and gives them back with ``munmap`` when they are
freed, and trims freed memory at the top of the heap, so the next step faults every page in again and the
kernel zeroes it. For SimCLR on 64 px images (``small_cnn``, batch 128) that is about 150,000 page faults and
a third of the step's CPU time spent in the kernel (``benchmarks/bench_image_throughput.py``).

:func:`keep_freed_memory` raises both thresholds (``mallopt(M_MMAP_THRESHOLD)`` and
``mallopt(M_TRIM_THRESHOLD)``), so freed buffers stay in the process and are reused without a fault; the
values a tensor holds are unchanged. The cost is that memory freed during training is not given back to the
system until the context ends (the peak is the same). :class:`~pairs.train.Trainer` uses it while it trains on
the CPU, and the :class:`~pairs.pairing.ViewLoader` workers for their whole life. Elsewhere than glibc
(macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import threading
from collections.abc import Iterator

__all__ = ["keep_freed_memory", "kept_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP = 1 << 30  # buffers up to 1 GiB are served from the heap, and up to 1 GiB of freed memory is kept
_GLIBC_DEFAULT = 128 * 1024  # glibc's initial mmap and trim thresholds

_log = logging.getLogger("pairs")
_lock = threading.Lock()
_depth = 0
_for_good = False  # keep_freed_memory() was called: contexts do not restore the defaults


def _libc() -> ctypes.CDLL | None:
    """glibc, or ``None`` elsewhere (its ``mallopt`` and ``malloc_trim`` are glibc extensions)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
            return None  # not glibc
    except OSError:
        return None
    return libc


def _set(libc: ctypes.CDLL, mmap_threshold: int, trim_threshold: int) -> bool:
    ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(mmap_threshold)) == 1
    return libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(trim_threshold)) == 1 and ok


def keep_freed_memory() -> bool:
    """Keep freed buffers (up to 1 GiB each) in this process for reuse, for the rest of its life.

    For processes that only train or load data (the loader's workers). Child processes started with
    ``fork`` inherit the setting.

    Returns:
        Whether the allocator took the setting (``False`` where the C library is not glibc).
    """
    global _for_good
    with _lock:
        _for_good = True  # no context restores the defaults from now on, this one included
    with kept_freed_memory() as ok:
        return ok


@contextlib.contextmanager
def kept_freed_memory() -> Iterator[bool]:
    """Context in which freed buffers stay in the process; afterwards glibc's initial thresholds are restored
    and the freed memory is given back to the system (``malloc_trim``). Re-entrant.

    Yields:
        Whether the allocator took the setting (``False`` where the C library is not glibc).
    """
    global _depth
    libc = _libc()
    if libc is None:
        yield False
        return
    with _lock:
        _depth += 1
        ok = _set(libc, _KEEP, _KEEP)
    if not ok:
        _log.debug("mallopt refused the thresholds; freed memory is returned to the system as usual")
    try:
        yield ok
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and not _for_good:
                _set(libc, _GLIBC_DEFAULT, _GLIBC_DEFAULT)
                libc.malloc_trim(ctypes.c_size_t(0))

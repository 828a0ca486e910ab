"""Counting events in fixed time windows, atomically, for the API throttle and the
password-change limit.

Several web processes count in one cache. Redis and the in-memory cache increment
atomically (``incr``); Django's file cache reads and writes the number, so two
processes can both read 9 and both write 10 (the attack let ~20 % extra through).
There the increment holds an exclusive lock on a file next to the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache


def hits_count(*, key: str, seconds: int) -> int:
    """Count one more event under ``key``; the number so far in its ``seconds`` window."""
    cache = caches["default"]
    with _file_cache_lock(cache):
        cache.add(key, 0, timeout=seconds)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr: a new window
            cache.add(key, 1, timeout=seconds)
            return 1


def hits_get(*, key: str) -> int:
    return caches["default"].get(key, 0)


def hits_clear(*, key: str) -> None:
    caches["default"].delete(key)


@contextlib.contextmanager
def _file_cache_lock(cache):
    if not isinstance(cache, FileBasedCache):
        yield
        return
    folder = Path(cache._dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".ratelimit.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

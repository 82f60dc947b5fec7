"""Giving freed memory back to the system after large pieces of work.

glibc's malloc keeps freed heap memory for reuse; after a large chapter has been
parsed, sanitised and written, the worker would keep that much resident for the rest
of its life, and the next large allocation often does not fit in the freed holes.
``release()`` calls ``malloc_trim(0)`` (glibc), which returns every free page; it is a
no-op where there is no glibc. It costs a few milliseconds, so the import calls it
only after the planning pass and after large chapters.
"""

import ctypes
import ctypes.util

_LARGE = 1024 * 1024  # characters of a chapter worth releasing memory after


def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_trim = _malloc_trim()


def release():
    if _trim is not None:
        _trim(0)


def release_after(size):
    """Release after work on ``size`` characters, if that was large."""
    if size >= _LARGE:
        release()

"""Keep a collector's memory in check: fewer glibc malloc arenas for a threaded process.

glibc gives each thread that allocates concurrently its own arena (up to 8 per core) and
rarely hands their free pages back, so a crawl that parses pages in worker threads grows its
resident memory by a third or more with nothing live in it. Two arenas measured no slower on
the crawl benchmark and cut peak RSS from about 250 to 150 MiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_ARENA_MAX = -8  # from glibc's malloc.h
DEFAULT_ARENAS = 2


def limit_malloc_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Cap glibc's malloc arenas, unless MALLOC_ARENA_MAX already says; True if applied.

    Call it before threads start allocating: it affects arenas created afterwards.
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))

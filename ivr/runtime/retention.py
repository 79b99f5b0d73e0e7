"""How long recordings are kept: by age and by the total size of the directory.

``to_delete`` is pure (the files, their ages and sizes in; what to delete out); ``prune``
reads the directory and deletes, and is run off the event loop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    path: Path
    modified: float
    size: int


def to_delete(files: Iterable[Kept], *, now: float, max_age: float | None, max_bytes: int | None) -> list[Path]:
    """The files older than ``max_age`` seconds, then the oldest others until the rest take
    at most ``max_bytes``."""
    newest_first = sorted(files, key=lambda kept: kept.modified, reverse=True)
    doomed: list[Path] = []
    total = 0
    for kept in newest_first:
        too_old = max_age is not None and now - kept.modified > max_age
        total += kept.size
        if too_old or (max_bytes is not None and total > max_bytes):
            doomed.append(kept.path)
    return doomed


def prune(directory: Path, *, now: float, max_age: float | None, max_bytes: int | None) -> int:
    """Delete the WAV recordings of ``directory`` that ``to_delete`` picks; how many."""
    files = []
    for entry in os.scandir(directory):
        if entry.is_file() and entry.name.endswith(".wav"):
            stat = entry.stat()
            files.append(Kept(Path(entry.path), stat.st_mtime, stat.st_size))
    doomed = to_delete(files, now=now, max_age=max_age, max_bytes=max_bytes)
    for path in doomed:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    if doomed:
        log.info("recordings: %d deleted from %s (record_keep_days, record_max_mb)", len(doomed), directory)
    return len(doomed)

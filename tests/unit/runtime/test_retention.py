"""Recordings are kept for so long and up to so much."""

from __future__ import annotations

import os
from pathlib import Path

from ivr.runtime.retention import Kept, prune, to_delete


def test_old_files_and_the_oldest_beyond_the_size_limit_are_deleted() -> None:
    files = [Kept(Path(f"{n}.wav"), modified=1000.0 - n * 100, size=10) for n in range(5)]  # 0 newest
    assert to_delete(files, now=1000.0, max_age=250, max_bytes=None) == [Path("3.wav"), Path("4.wav")]
    assert to_delete(files, now=1000.0, max_age=None, max_bytes=25) == [Path("2.wav"), Path("3.wav"), Path("4.wav")]
    assert to_delete(files, now=1000.0, max_age=None, max_bytes=None) == []


def test_prune_deletes_only_recordings(tmp_path: Path) -> None:
    for name, age in (("old.wav", 10_000), ("new.wav", 0), ("notes.txt", 10_000)):
        path = tmp_path / name
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
    assert prune(tmp_path, now=1_000_000, max_age=3600, max_bytes=None) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.wav", "notes.txt"]

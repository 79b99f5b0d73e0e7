"""Where speech-ivr keeps what it builds or downloads once: the sandbox rootfs, Vosk models."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/speech-ivr`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "speech-ivr"

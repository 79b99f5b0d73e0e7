"""ivr.sandbox.rootfs: building the rootfs needs root; an existing one is reused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ivr.sandbox import SandboxError, ensure_rootfs


def test_rootfs_build_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match="needs root"):
        ensure_rootfs(tmp_path)


def test_existing_rootfs_is_reused(tmp_path: Path) -> None:
    (tmp_path / "asterisk-22").mkdir()
    assert ensure_rootfs(tmp_path) == tmp_path / "asterisk-22"

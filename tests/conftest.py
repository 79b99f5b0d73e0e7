"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ivr.sandbox import Sandbox, SandboxInfo


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxInfo]:
    """A real Asterisk 22 of its own for this test session (the rootfs is built once and cached)."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox Asterisk needs root (it runs under chroot)")
    instance = Sandbox(f"pytest-{os.getpid()}")
    info = instance.up()
    yield info
    instance.down(purge=True)

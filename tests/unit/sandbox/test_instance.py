"""ivr.sandbox.instance: what a sandbox may be named."""

from __future__ import annotations

import pytest

from ivr.sandbox import Sandbox, SandboxError


def test_bad_instance_name() -> None:
    with pytest.raises(SandboxError, match="bad sandbox name"):
        Sandbox("../etc")

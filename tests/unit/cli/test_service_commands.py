"""``run`` and the sandbox commands through the entry point: fail fast, one line, no secret."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from ivr.cli import main
from ivr.exits import Exit
from ivr.project import EXAMPLES_DIR

SECRET = "hunter2-Very-Secret"
PROJECT = ["--flows", str(EXAMPLES_DIR / "flows"), "--grammars", str(EXAMPLES_DIR / "grammars")]


@pytest.fixture
def refusing_asterisk(request: pytest.FixtureRequest) -> Iterator[str]:
    """An HTTP server answering every request with one status (401: a wrong password,
    404: ARI disabled), in its own thread: the command runs its own event loop."""
    status = request.param
    ready = threading.Event()
    state: dict[str, object] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        async def refuse(_: web.Request) -> web.Response:
            return web.Response(status=status)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        state["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        state["loop"] = loop
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(5)
    yield f"http://127.0.0.1:{state['port']}/"
    loop = state["loop"]
    loop.call_soon_threadsafe(loop.stop)  # type: ignore[attr-defined]
    thread.join(5)


@pytest.mark.parametrize(
    ("refusing_asterisk", "cause"),
    [(401, "refused user 'speech-ivr' (HTTP 401)"), (404, "has no ARI (HTTP 404)")],
    indirect=["refusing_asterisk"],
)
def test_run_stops_at_once_when_asterisk_refuses(
    refusing_asterisk: str,
    cause: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEECH_IVR_ARI_PASSWORD", SECRET)
    monkeypatch.setenv("SPEECH_IVR_MONITOR_LISTEN", "127.0.0.1:0")
    caplog.set_level(logging.DEBUG)
    code = main(["run", "-v", "--ari-url", refusing_asterisk, *PROJECT])
    out, err = capsys.readouterr()
    assert code == Exit.UNAVAILABLE
    assert err.count("\n") == 1 and cause in err and "Traceback" not in err
    assert SECRET not in out + err
    assert not [r for r in caplog.records if SECRET in r.getMessage()]


def test_run_with_a_config_file_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--config", str(tmp_path / "nowhere.toml"), *PROJECT]) == Exit.USAGE
    err = capsys.readouterr().err
    assert err == f"speech-ivr run: bad settings: --config {tmp_path / 'nowhere.toml'}: no such file\n"


def test_run_with_an_unknown_default_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEECH_IVR_MONITOR_LISTEN", "127.0.0.1:0")
    # nobody listens on port 9: the app would retry, but the flow is wrong before that matters
    code = main(["run", "--ari-url", "http://127.0.0.1:9/", "--default-flow", "nope", *PROJECT])
    err = capsys.readouterr().err
    assert code == Exit.USAGE
    assert err.splitlines()[-1] == "speech-ivr run: the default flow 'nope' is not a flow (flows: switchboard-en, switchboard-ko)"


def test_a_bad_sandbox_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "status", "--name", "../etc"])
    assert exited.value.code == Exit.USAGE
    assert "bad sandbox name '../etc'" in capsys.readouterr().err


def test_run_against_a_sandbox_that_is_not_running(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--sandbox", "never-started-here", *PROJECT])
    assert code == Exit.UNAVAILABLE
    assert "sandbox 'never-started-here' is not running" in capsys.readouterr().err


async def test_sighup_reloads_and_sigterm_stops() -> None:
    from ivr.cli.service_commands import serve_until_signalled as _serve_until_signalled

    class App:
        reloaded = 0

        async def run(self) -> None:
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(0.1)
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(10)

        async def reload(self) -> bool:
            App.reloaded += 1
            return True

    await asyncio.wait_for(_serve_until_signalled(App()), 5)  # type: ignore[arg-type]
    assert App.reloaded == 1


@pytest.mark.parametrize("workers", ["0", "two", "-1"])
def test_a_bad_workers_count_is_one_line(workers: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--workers", workers, *PROJECT]) == Exit.USAGE
    assert capsys.readouterr().err == f"speech-ivr run: --workers {workers}: give a number of worker processes, 1 or more\n"


def test_each_worker_runs_with_the_flags_of_run_less_workers() -> None:
    from ivr.cli.main import parser
    from ivr.cli.service_commands import worker_arguments

    args = parser().parse_args(["run", "--workers", "2", "-v", "--config", "c.toml", "--sandbox", *PROJECT])
    assert worker_arguments(args) == ["run", "--config", "c.toml", *PROJECT, "--sandbox", "default", "-v"]
    assert worker_arguments(parser().parse_args(["run", "--workers", "2"])) == ["run"]

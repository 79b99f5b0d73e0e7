"""``run --workers``: the workers' names, ports and environment, restarts, and the supervisor
itself over stand-in worker processes (small Python scripts)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from ivr import supervisor
from ivr.exits import Exit
from ivr.supervisor import (
    RESTART_CAP,
    RESTART_FIRST,
    Supervisor,
    Worker,
    WorkersError,
    plan_workers,
    restart_delay,
    worker_environment,
)


def test_worker_k_is_app_k_with_its_metrics_on_the_port_plus_k_minus_1() -> None:
    assert plan_workers(3, "speech-ivr", "127.0.0.1:9464") == [
        Worker(1, "speech-ivr-1", "127.0.0.1:9464"),
        Worker(2, "speech-ivr-2", "127.0.0.1:9465"),
        Worker(3, "speech-ivr-3", "127.0.0.1:9466"),
    ]
    assert [w.monitor_listen for w in plan_workers(2, "ivr-b", "[::1]:0")] == ["[::1]:0", "[::1]:0"]
    assert [w.monitor_listen for w in plan_workers(2, "ivr-b", None)] == [None, None]


@pytest.mark.parametrize(("count", "listen", "error"), [
    (0, None, "--workers 0: give 1 or more"),
    (3, "127.0.0.1:65534", "--workers 3: monitor_listen port 65534 leaves no port for worker 3 (ports 65534 to 65536)"),
])
def test_workers_that_cannot_be_planned_are_one_line(count: int, listen: str | None, error: str) -> None:
    with pytest.raises(WorkersError) as raised:
        plan_workers(count, "speech-ivr", listen)
    assert str(raised.value) == error


def test_a_worker_gets_its_settings_through_its_environment() -> None:
    environment = worker_environment({"PATH": "/bin", "SPEECH_IVR_APP": "speech-ivr"}, Worker(2, "speech-ivr-2", None))
    assert environment == {
        "PATH": "/bin", "SPEECH_IVR_APP": "speech-ivr-2", "SPEECH_IVR_BROADCAST": "true", "SPEECH_IVR_MONITOR_LISTEN": "",
    }


def test_a_worker_that_keeps_dying_waits_longer_each_time_up_to_a_cap() -> None:
    assert [restart_delay(n) for n in range(3)] == [RESTART_FIRST, 2 * RESTART_FIRST, 4 * RESTART_FIRST]
    assert restart_delay(100) == RESTART_CAP


def _script(tmp_path: Path, body: str) -> list[str]:
    """A stand-in worker: ``body`` runs with ``app`` (its SPEECH_IVR_APP) and ``runs`` (a
    file in which each start of it adds a line) defined."""
    path = tmp_path / "worker.py"
    path.write_text(
        "import os, signal, sys, time\n"
        "app = os.environ['SPEECH_IVR_APP']\n"
        f"runs = {str(tmp_path)!r} + '/' + app\n"
        "with open(runs, 'a') as f: f.write('run\\n')\n"
        "starts = open(runs).read().count('run')\n" + body
    )
    return [sys.executable, str(path)]


async def test_a_worker_that_dies_has_its_calls_rescued_and_is_started_again_until_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "RESTART_FIRST", 0.05)
    command = _script(tmp_path, (
        "if app == 'w-1' and starts == 1: sys.exit(1)\n"  # worker 1 dies once, at once
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "open(runs + '.up', 'a').write('up\\n')\n"
        "time.sleep(60)\n"
    ))
    rescued: list[str] = []

    async def rescue(app: str) -> None:
        rescued.append(app)

    boss = Supervisor(plan_workers(2, "w", None), command, rescue)
    running = asyncio.create_task(boss.run())
    async with asyncio.timeout(20):
        while not ((tmp_path / "w-1.up").exists() and (tmp_path / "w-2.up").exists()):
            await asyncio.sleep(0.02)
    pids = [p.pid for p in boss.processes.values()]
    boss.signal(signal.SIGTERM)
    assert await asyncio.wait_for(running, 10) == Exit.OK
    assert rescued == ["w-1"]
    assert (tmp_path / "w-1").read_text() == "run\nrun\n" and (tmp_path / "w-2").read_text() == "run\n"
    assert not boss.processes and len(pids) == 2


@pytest.mark.parametrize("status", [Exit.USAGE, Exit.UNAVAILABLE])
async def test_a_worker_exiting_with_a_status_restarting_cannot_cure_stops_them_all(tmp_path: Path, status: int) -> None:
    command = _script(tmp_path, (
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        f"if app == 'w-2': time.sleep(0.3); sys.exit({status})\n"
        "time.sleep(60)\n"
    ))

    async def rescue(app: str) -> None:
        pass

    assert await asyncio.wait_for(Supervisor(plan_workers(2, "w", None), command, rescue).run(), 20) == status
    assert (tmp_path / "w-1").read_text() == "run\n" and (tmp_path / "w-2").read_text() == "run\n"


async def test_a_failed_rescue_is_logged_and_the_worker_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(supervisor, "RESTART_FIRST", 0.05)
    command = _script(tmp_path, (
        "if starts == 1: os.kill(os.getpid(), signal.SIGKILL)\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "open(runs + '.up', 'a').write('up\\n')\n"
        "time.sleep(60)\n"
    ))

    async def rescue(app: str) -> None:
        raise ConnectionRefusedError("Asterisk is down")

    boss = Supervisor(plan_workers(1, "w", None), command, rescue)
    running = asyncio.create_task(boss.run())
    async with asyncio.timeout(20):
        while not (tmp_path / "w-1.up").exists():
            await asyncio.sleep(0.02)
    boss.signal(signal.SIGTERM)
    assert await asyncio.wait_for(running, 10) == Exit.OK
    assert "w-1 (pid" in caplog.text and "killed by SIGKILL" in caplog.text
    assert "could not be sent on (ConnectionRefusedError('Asterisk is down'))" in caplog.text

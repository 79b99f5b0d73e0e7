"""The commands that talk to Asterisk or the network: ``run``, ``call``, ``demo``,
``sandbox``, ``models``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import logging.handlers
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.cli.common import CliError, dtmf_keys, project_flows, settings_of
from ivr.exits import Exit

if TYPE_CHECKING:
    from ivr.settings import Settings
    from ivr.telephony.app import SpeechIvrApp


def sandbox_name(name: str) -> str:
    """An argparse type: a sandbox instance's name."""
    from ivr.sandbox.instance import NAME_PATTERN

    if not NAME_PATTERN.fullmatch(name):
        raise argparse.ArgumentTypeError(f"bad sandbox name {name!r}: use letters, digits, '-', '_' and '.'")
    return name


def run(args: argparse.Namespace) -> int:
    from ivr.monitoring.endpoints import MonitoringUnavailable
    from ivr.runtime.library import CatalogError
    from ivr.speech.models import ModelStore
    from ivr.telephony.app import SpeechIvrApp
    from ivr.telephony.ari import AriRefused

    workers = None if args.workers is None else workers_count(args.workers)
    overrides: dict[str, object] = {}
    if args.sandbox:
        from ivr.sandbox import Sandbox

        info = Sandbox(args.sandbox).status()
        if info is None:
            raise CliError(f"sandbox {args.sandbox!r} is not running: speech-ivr sandbox up --name {args.sandbox}", Exit.UNAVAILABLE)
        overrides = info.app_settings().model_dump(include={"ari_url", "ari_user", "ari_password"})
    settings = settings_of(args, **({"ari_url": args.ari_url, "default_flow": args.default_flow} | overrides))
    flows = project_flows(settings)
    for diagnostic in flows.diagnostics:
        print(diagnostic, file=sys.stderr)
    if workers is not None:
        return run_workers(args, settings, workers)
    logging.getLogger("ivr").info("settings: %s", settings.redacted())
    log_call_records(settings.call_log)
    app = SpeechIvrApp(settings, flows, ModelStore(settings.models))
    try:
        asyncio.run(serve_until_signalled(app))
    except (CatalogError, MonitoringUnavailable) as exc:
        raise CliError(str(exc)) from None
    except AriRefused as exc:
        raise CliError(str(exc), Exit.UNAVAILABLE) from None
    return Exit.OK


def workers_count(text: str) -> int:
    """``--workers N``, checked in the handler so that a bad one is one line (not argparse's usage)."""
    if not text.isdigit() or int(text) < 1:
        raise CliError(f"--workers {text}: give a number of worker processes, 1 or more")
    return int(text)


def worker_arguments(args: argparse.Namespace) -> list[str]:
    """The ``speech-ivr`` command line of each worker of ``run --workers``: this ``run``'s
    own flags, less ``--workers``."""
    argv = ["run"]
    for flag, key in (("--config", "config"), ("--flows", "flows_dir"), ("--grammars", "grammars_dir"),
                      ("--ari-url", "ari_url"), ("--default-flow", "default_flow"), ("--sandbox", "sandbox")):
        if (value := getattr(args, key, None)) is not None:
            argv += [flag, str(value)]
    return argv + (["-v"] if getattr(args, "verbose", False) else [])


def run_workers(args: argparse.Namespace, settings: Settings, count: int) -> int:
    """``run --workers N``: the supervisor (``ivr.supervisor``), once the settings, the flows
    and Asterisk's answer to our credentials are known to be good (else one line, not N)."""
    from ivr.supervisor import Supervisor, WorkersError, plan_workers, worker_command
    from ivr.telephony.ari import AriRefused, AriUnavailable, connect
    from ivr.telephony.rescue import rescue

    try:
        workers = plan_workers(count, settings.app, settings.monitor_listen)
    except WorkersError as exc:
        raise CliError(str(exc)) from None

    async def supervise() -> int:
        try:
            await (await connect(settings)).close()
        except AriRefused as exc:
            raise CliError(str(exc), Exit.UNAVAILABLE) from None
        except AriUnavailable as exc:
            logging.getLogger("ivr").warning("ARI connection: %s; the workers keep trying", exc)
        logging.getLogger("ivr").info("workers: %s", ", ".join(f"{w.app} (metrics {w.monitor_listen or 'off'})" for w in workers))
        command = worker_command(worker_arguments(args))
        return await Supervisor(workers, command, lambda app: rescue(settings, app)).run()

    return asyncio.run(supervise())


def log_call_records(path: Path | None) -> None:
    """Each call's record as one JSON line (python-json-logger), appended to ``path`` (a
    WatchedFileHandler: logrotate may move the file) or written to stderr; not also as text."""
    from pythonjsonlogger.json import JsonFormatter

    handler: logging.Handler
    try:
        handler = logging.StreamHandler() if path is None else logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"call_log {path}: cannot write there: {exc.strerror}") from None
    handler.setFormatter(JsonFormatter("%(asctime)s %(message)s", json_ensure_ascii=False))
    calls = logging.getLogger("ivr.calls")
    calls.addHandler(handler)
    calls.propagate = False


async def serve_until_signalled(app: SpeechIvrApp) -> None:
    """SIGINT/SIGTERM stop the app (calls in progress get a moment); SIGHUP reloads the flows."""
    task = asyncio.create_task(app.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    reloads: set[asyncio.Task[bool]] = set()

    def reload() -> None:
        reloading = asyncio.create_task(app.reload())
        reloads.add(reloading)
        reloading.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)


def add_call_arguments(call: argparse.ArgumentParser) -> None:
    call.add_argument("--flow", metavar="FLOW", help="the flow to call (default: the app's default flow)")
    said = call.add_mutually_exclusive_group()
    said.add_argument("--say", metavar="TEXT", help="the caller says TEXT (espeak-ng, voice from the flow's language)")
    said.add_argument("--wav", type=Path, metavar="FILE", help="the caller plays FILE (any audio sox reads)")
    call.add_argument("--dtmf", type=dtmf_keys, metavar="KEYS", help="keys pressed (after the speech, if any): 0-9 * # A-D")
    call.add_argument("--voice", metavar="VOICE", help="espeak-ng voice for --say (default: ko+f3 for Korean, en-us for English)")
    where = call.add_mutually_exclusive_group()
    where.add_argument("--sandbox", metavar="NAME", type=sandbox_name, help="a running sandbox (default: 'default' unless --ari-url)")
    where.add_argument("--ari-url", metavar="URL", help="another Asterisk on this machine with the `caller` context (see extensions.conf)")
    call.add_argument("--ari-user", metavar="USER", help="ARI user with --ari-url (default: speech-ivr)")
    call.add_argument("--ari-password-file", type=Path, metavar="FILE", help="ARI password with --ari-url (else $SPEECH_IVR_ARI_PASSWORD)")
    call.add_argument("--sounds", type=Path, metavar="DIR", help="Asterisk's sounds root with --ari-url (default: /usr/share/asterisk/sounds); audio goes to DIR/speech-ivr/calls/")
    call.add_argument("--endpoint", metavar="Local/EXTEN@CONTEXT", help="where the call enters the IVR (default: Local/FLOW@ivr-flow, or Local/s@ivr-in)")
    call.add_argument("--hold", type=float, default=0.0, metavar="SECONDS", help="stay on the line this long after the call arrived")
    call.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="give up when the call has not left the IVR by then")
    call.add_argument("--json", action="store_true", help="print one JSON object")


def call(args: argparse.Namespace) -> int:
    from ivr.sandbox.dialing import call_command

    return call_command(
        flow=args.flow,
        say=args.say,
        wav=args.wav,
        dtmf=args.dtmf,
        voice=args.voice,
        sandbox=args.sandbox,
        ari_url=args.ari_url,
        ari_user=args.ari_user,
        ari_password_file=args.ari_password_file,
        sounds=args.sounds,
        endpoint=args.endpoint,
        hold=args.hold,
        timeout=args.timeout,
        as_json=args.json,
        flows_dir=settings_of(args).flows_dir,
        config=getattr(args, "config", None),
    )


def demo(args: argparse.Namespace) -> int:
    from ivr.demo import run_demo
    from ivr.sandbox import SandboxError

    try:
        return asyncio.run(run_demo(keep=args.keep))
    except SandboxError as exc:
        raise CliError(str(exc), Exit.UNAVAILABLE) from None


def sandbox(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ivr.sandbox import Sandbox, SandboxError

    console = Console()
    instance = Sandbox(args.name, http_port=args.port)
    try:
        if args.action == "up":
            info = instance.up(log=console.print)
            console.print(f"sandbox {info.name!r} is up: ARI {info.ari_url} (user {info.ari_user})")
            console.print(f"run the app against it: speech-ivr run --sandbox {info.name}")
        elif args.action == "down":
            instance.down()
            console.print(f"sandbox {args.name!r} is down")
        else:
            info = instance.status()
            if info is None:
                console.print(f"sandbox {args.name!r} is not running")
                return Exit.PROBLEMS
            console.print(
                f"sandbox {info.name!r} is running: pid {info.pid}, ARI {info.ari_url} "
                f"(user {info.ari_user}), log {info.log_file}"
            )
    except SandboxError as exc:
        raise CliError(str(exc), Exit.UNAVAILABLE) from None
    return Exit.OK


def models_list(args: argparse.Namespace) -> int:
    from ivr.speech import models_cli

    return models_cli.list_models(as_json=args.json)


def fetch_mermaid(_: argparse.Namespace) -> int:
    from ivr.monitoring.mermaid_asset import MermaidFetchError, fetch_mermaid

    try:
        path = asyncio.run(fetch_mermaid())
    except MermaidFetchError as exc:
        raise CliError(str(exc), Exit.UNAVAILABLE) from None
    print(f"Mermaid for the live monitor's flow graphs: {path}")
    return Exit.OK


def models_download(args: argparse.Namespace) -> int:
    from ivr.speech import models_cli

    return models_cli.download(args.target, sha256=args.sha256, md5=args.md5)


def models_install(args: argparse.Namespace) -> int:
    from ivr.speech import models_cli

    return models_cli.install(args.source, name=args.name, md5=args.md5, sha256=args.sha256)


def models_path(args: argparse.Namespace) -> int:
    from ivr.speech import models_cli

    return models_cli.show_path(args.name)


def models_verify(args: argparse.Namespace) -> int:
    from ivr.speech import models_cli

    return models_cli.verify(args.name)

"""The ``speech-ivr`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ivr import __version__
from ivr.settings import Settings

if TYPE_CHECKING:
    from ivr.telephony.app import SpeechIvrApp


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speech-ivr",
        description="Speech-routing IVR for Asterisk: callers say where they want to go.",
    )
    parser.add_argument("--version", action="version", version=f"speech-ivr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the Stasis application against an Asterisk")
    _add_settings_arguments(run)
    run.add_argument(
        "--sandbox",
        metavar="NAME",
        nargs="?",
        const="default",
        help="connect to a running sandbox Asterisk (see `speech-ivr sandbox up`)",
    )
    run.set_defaults(handler=_run)

    demo = commands.add_parser(
        "demo", help="start a sandbox Asterisk and the app, place Korean test calls, show the results"
    )
    demo.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    demo.set_defaults(handler=_demo)

    check = commands.add_parser(
        "check", help="check flows and grammars: FILE:LINE:COL: error|warning: message"
    )
    check.add_argument("paths", nargs="*", type=Path, help="flow/grammar files or directories (default: ./flows ./grammars)")
    check.add_argument("--sounds", type=Path, action="append", default=[], metavar="DIR", help="Asterisk sounds directory to find sound: prompts in")
    check.add_argument("--config", type=Path, help="TOML settings file (for the models' vocabularies)")
    check.add_argument("--no-vocabulary", action="store_true", help="do not check grammar words against the models")
    check.set_defaults(handler=_check)

    graph = commands.add_parser("graph", help="print a flow as a Mermaid diagram")
    _add_flow_arguments(graph)
    graph.set_defaults(handler=_graph)

    simulate = commands.add_parser(
        "simulate", help="run a flow turn by turn offline: what the caller says or presses in, the route out"
    )
    _add_flow_arguments(simulate)
    simulate.add_argument("--say", action=_Turn, metavar="TEXT", help="the caller says TEXT")
    simulate.add_argument("--wav", action=_Turn, type=Path, metavar="FILE", help="the caller says what FILE holds (16 kHz mono WAV, heard like a live call)")
    simulate.add_argument("--dtmf", action=_Turn, metavar="KEYS", help="the caller presses KEYS")
    simulate.add_argument("--silence", action=_Turn, nargs=0, help="the caller says nothing")
    simulate.add_argument("--json", action="store_true", help="print JSON")
    simulate.set_defaults(handler=_simulate, turns=[])

    test_flow = commands.add_parser("test-flow", help="run a flow's regression cases (YAML)")
    _add_flow_arguments(test_flow)
    test_flow.add_argument("cases", type=Path, help="YAML file of cases")
    test_flow.set_defaults(handler=_test_flow)

    models = commands.add_parser("models", help="Vosk models: list, download, locate, verify")
    model_actions = models.add_subparsers(title="actions", required=True, metavar="ACTION")
    listing = model_actions.add_parser("list", help="the catalogue, with what is installed where")
    listing.set_defaults(handler=lambda args: _models("list_models"))
    fetch = model_actions.add_parser("download", help="download a model into the cache (resumes, checks)")
    fetch.add_argument("target", help="a catalogue name or a URL of a model zip")
    fetch.add_argument("--sha256", help="the zip's SHA-256, checked after the download")
    fetch.set_defaults(handler=lambda args: _models("download", args.target, sha256=args.sha256))
    where = model_actions.add_parser("path", help="the directory of an installed model")
    where.add_argument("name")
    where.set_defaults(handler=lambda args: _models("show_path", args.name))
    check_model = model_actions.add_parser("verify", help="load a model and decode a second of silence")
    check_model.add_argument("name", help="a catalogue name, a package or a directory")
    check_model.set_defaults(handler=lambda args: _models("verify", args.name))

    sandbox = commands.add_parser("sandbox", help="a local Asterisk 22 for trying things out")
    sandbox.add_argument("action", choices=["up", "down", "status"])
    sandbox.add_argument("--name", default="default", help="instance name (default: %(default)s)")
    sandbox.add_argument("--port", type=int, help="HTTP/ARI port (default: a free one)")
    sandbox.set_defaults(handler=_sandbox)
    return parser


class _Turn(argparse.Action):
    """``--say/--wav/--dtmf/--silence`` in the order given, into ``turns``."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        from ivr.simulate import Keys, Say, Silence, Wav

        kind = {"--say": Say, "--wav": Wav, "--dtmf": Keys, "--silence": Silence}[str(option_string)]
        namespace.turns = [*namespace.turns, kind() if kind is Silence else kind(values)]


def _add_flow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("flow", help="the flow's name")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--flows", type=Path, dest="flows_dir", help="flows directory")
    parser.add_argument("--grammars", type=Path, dest="grammars_dir", help="grammars directory")


def _add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--flows", type=Path, dest="flows_dir", help="flows directory")
    parser.add_argument("--grammars", type=Path, dest="grammars_dir", help="grammars directory")
    parser.add_argument("--ari-url", help="Asterisk HTTP URL, e.g. http://127.0.0.1:8088/")
    parser.add_argument("--default-flow", help="flow for Stasis(APP) without an argument")


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    given = {
        key: value
        for key in ("flows_dir", "grammars_dir", "ari_url", "default_flow")
        if (value := getattr(args, key, None)) is not None
    }
    return Settings(config_file=args.config, **given, **overrides)


def _run(args: argparse.Namespace) -> int:
    from ivr.flow import FlowLoadError, load_flows
    from ivr.speech.models import ModelStore
    from ivr.telephony.app import SpeechIvrApp

    overrides: dict[str, object] = {}
    if args.sandbox:
        from ivr.sandbox import Sandbox

        info = Sandbox(args.sandbox).status()
        if info is None:
            print(f"speech-ivr: sandbox {args.sandbox!r} is not running (speech-ivr sandbox up)", file=sys.stderr)
            return 2
        overrides = info.app_settings().model_dump(include={"ari_url", "ari_user", "ari_password"})
    try:
        settings = _settings(args, **overrides)
    except ValidationError as exc:
        print(f"speech-ivr: bad settings:\n{exc}", file=sys.stderr)
        return 2
    try:
        flows = load_flows(settings.flows_dir, settings.grammars_dir)
    except FlowLoadError as exc:
        print(exc, file=sys.stderr)
        return 2
    for diagnostic in flows.diagnostics:
        print(diagnostic, file=sys.stderr)
    logging.getLogger("ivr").info("settings: %s", settings.redacted())
    app = SpeechIvrApp(settings, flows, ModelStore(settings.models))
    asyncio.run(_serve_until_signalled(app))
    return 0


async def _serve_until_signalled(app: SpeechIvrApp) -> None:
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


def _check(args: argparse.Namespace) -> int:
    from ivr.flow.check import run_check
    from ivr.speech.models import ModelNotFound, resolve_model_path
    from ivr.speech.vocabulary import VocabularyError, model_vocabulary

    models = _settings(args).models

    def vocabulary(language: str) -> frozenset[str] | None:
        if language not in models:
            print(f"speech-ivr check: {language} words not checked: no model configured", file=sys.stderr)
            return None
        try:
            return model_vocabulary(resolve_model_path(models[language]))
        except (ModelNotFound, VocabularyError) as exc:
            print(f"speech-ivr check: {language} words not checked: {exc}", file=sys.stderr)
            return None

    return run_check(args.paths, args.sounds, sys.stdout, None if args.no_vocabulary else vocabulary)


def _load_flow(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The settings, the flow set and the flow named on the command line; exits on errors."""
    from ivr.flow import FlowLoadError, load_flows

    settings = _settings(args)
    try:
        flows = load_flows(settings.flows_dir, settings.grammars_dir)
    except FlowLoadError as exc:
        sys.exit(f"{exc}")
    flow = flows.get(args.flow)
    if flow is None:
        sys.exit(f"speech-ivr: no flow {args.flow!r} in {settings.flows_dir} (flows: {', '.join(flows.flows)})")
    return settings, flows, flow


def _simulator(args: argparse.Namespace, *, hears_audio: bool):  # type: ignore[no-untyped-def]
    """The simulator for the flow named on the command line; with the flow's speech model
    loaded when ``hears_audio`` (WAV turns)."""
    from ivr.flow.compiled import compile_flow, compile_matchers
    from ivr.simulate import Simulator
    from ivr.speech.models import ModelStore

    settings, flows, flow = _load_flow(args)
    compiled = compile_flow(flow, compile_matchers(flows.grammars))
    model = ModelStore(settings.models).get(flow.language) if hears_audio else None
    return Simulator(compiled, model)


def _graph(args: argparse.Namespace) -> int:
    from ivr.flow.graph import mermaid

    _, _, flow = _load_flow(args)
    print(mermaid(flow))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import json

    from ivr.audio import AudioFileError, read_wav
    from ivr.simulate import Wav

    wavs = [turn.path for turn in args.turns if isinstance(turn, Wav)]
    try:
        for path in wavs:  # before the model takes seconds to load
            read_wav(path)
    except AudioFileError as exc:
        print(f"speech-ivr simulate: {exc}", file=sys.stderr)
        return 2
    simulation = _simulator(args, hears_audio=bool(wavs)).run(args.turns)
    if args.json:
        print(json.dumps(simulation.as_json(), ensure_ascii=False, indent=2))
    else:
        print(simulation.report())
    return 0


def _test_flow(args: argparse.Namespace) -> int:
    from ivr.flow import FlowLoadError
    from ivr.flow.loader import load_model
    from ivr.flowtest import Cases, run_case

    try:
        cases = load_model(Cases, args.cases)
    except FlowLoadError as exc:
        print(exc, file=sys.stderr)
        return 2
    simulator = _simulator(args, hears_audio=any(i.wav is not None for c in cases.cases for i in c.inputs))
    failed = 0
    for case in cases.cases:
        result = run_case(simulator, case, args.cases.parent)
        print(f"{'PASS' if result.passed else 'FAIL'}  {case.name}")
        if not result.passed:
            failed += 1
            for problem in result.problems:
                print(f"      {problem}")
            print("      " + result.simulation.report().replace("\n", "\n      "))
    print(f"{len(cases.cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _models(action: str, *args: object, **kwargs: object) -> int:
    from ivr.speech import models_cli

    return getattr(models_cli, action)(*args, **kwargs)


def _demo(args: argparse.Namespace) -> int:
    from ivr.demo import run_demo

    return asyncio.run(run_demo(keep=args.keep))


def _sandbox(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ivr.sandbox import Sandbox, SandboxError

    console = Console()
    sandbox = Sandbox(args.name, http_port=args.port)
    try:
        if args.action == "up":
            info = sandbox.up(log=console.print)
            console.print(f"sandbox {info.name!r} is up: ARI {info.ari_url} (user {info.ari_user})")
            console.print(f"run the app against it: speech-ivr run --sandbox {info.name}")
        elif args.action == "down":
            sandbox.down()
            console.print(f"sandbox {args.name!r} is down")
        else:
            info = sandbox.status()
            if info is None:
                console.print(f"sandbox {args.name!r} is not running")
                return 1
            console.print(
                f"sandbox {info.name!r} is running: pid {info.pid}, ARI {info.ari_url} "
                f"(user {info.ari_user}), log {info.log_file}"
            )
    except SandboxError as exc:
        console.print(f"[red]speech-ivr sandbox {args.action}: {exc}[/red]")
        return 1
    return 0

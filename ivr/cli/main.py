"""``speech-ivr``'s parser and the one place its errors become a line and an exit status."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ivr import __version__
from ivr.cli import flow_commands, service_commands
from ivr.cli.common import CliError, common_options, dtmf_keys
from ivr.exits import Exit


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except CliError as exc:
        _report(args.command, str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last resort: an admin gets a line, -v gets the traceback
        if verbose:
            raise
        _report(args.command, f"unexpected {type(exc).__name__}: {exc} (run with -v for details)")
        return Exit.INTERNAL


def _report(command: str, message: str) -> None:
    """One line ``speech-ivr COMMAND: message``; diagnostics (``FILE:LINE:COL: ...``) as they are."""
    if message.count("\n") and ": error: " in message:
        print(message, file=sys.stderr)
    else:
        print(f"speech-ivr {command}: {message}", file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    common = common_options()
    top = argparse.ArgumentParser(
        prog="speech-ivr",
        description="Speech-routing IVR for Asterisk: callers say where they want to go.",
        epilog="Exit status: 0 done, 1 problems found (check, test-flow, demo), 2 bad argument, "
        "file or setting, 3 Asterisk or another service unreachable or refusing.",
    )
    top.add_argument("--version", action="version", version=f"speech-ivr {__version__}")
    top.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = top.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(name: str, handler: object, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, parents=[common])
        sub.set_defaults(handler=handler, command=name)
        return sub

    init = command("init", flow_commands.init, "write a starter project (flows, grammars, config.toml, dialplan) to edit")
    init.add_argument("directory", type=Path, help="the new project's directory (new or empty)")

    check = command("check", flow_commands.check, "check flows, grammars and test cases: FILE:LINE:COL: error|warning: message")
    check.add_argument("paths", nargs="*", type=Path, help="flow/grammar files, their directories, or a project (default: --flows and --grammars)")
    check.add_argument("--sounds", type=Path, action="append", default=[], metavar="DIR", help="Asterisk sounds directory to find sound: prompts in")
    check.add_argument("--strict", action="store_true", help="warnings fail the check too (exit 1)")
    check.add_argument("--no-vocabulary", action="store_true", help="do not check grammar words against the models")

    simulate = command("simulate", flow_commands.simulate, "run a flow turn by turn offline: what the caller says or presses in, the route out")
    simulate.add_argument("flow", help="the flow's name")
    simulate.add_argument("--say", action=flow_commands.Turn, metavar="TEXT", help="the caller says TEXT (heard as these words, with full confidence)")
    simulate.add_argument("--wav", action=flow_commands.Turn, type=Path, metavar="FILE", help="the caller says what FILE holds (16 kHz mono WAV, heard like a live call)")
    simulate.add_argument("--dtmf", action=flow_commands.Turn, type=dtmf_keys, metavar="KEYS", help="the caller presses KEYS (0-9, *, #, A-D)")
    simulate.add_argument("--silence", action=flow_commands.Turn, nargs=0, help="the caller says nothing")
    simulate.add_argument("--json", action="store_true", help="print JSON")
    simulate.set_defaults(turns=[])

    test_flow = command("test-flow", flow_commands.test_flow, "run flows' regression cases (flows/FLOW.cases.yaml)")
    test_flow.add_argument("flow", nargs="?", help="the flow's name (default: every flow with a cases file)")
    test_flow.add_argument("cases", nargs="?", type=Path, help="YAML file of cases (default: the flow's FLOW.cases.yaml)")

    graph = command("graph", flow_commands.graph, "print a flow as a Mermaid diagram")
    graph.add_argument("flow", help="the flow's name")

    prompts = command("prompts", None, "a flow's spoken prompts")
    prompt_actions = prompts.add_subparsers(title="actions", required=True, metavar="ACTION")
    render = prompt_actions.add_parser("render", parents=[common], help="speak a flow's prompt texts (FLOW.prompts.yaml) into sound files with espeak-ng")
    render.add_argument("flow", help="the flow's name")
    render.add_argument("--sounds", type=Path, required=True, metavar="DIR", help="Asterisk's sounds directory: sound:NAME becomes DIR/NAME.wav")
    render.add_argument("--force", action="store_true", help="render every prompt again")
    render.set_defaults(handler=flow_commands.render_prompts, command="prompts render")

    run = command("run", service_commands.run, "run the Stasis application against an Asterisk")
    run.add_argument("--ari-url", help="Asterisk HTTP URL, e.g. http://127.0.0.1:8088/")
    run.add_argument("--default-flow", help="flow for Stasis(APP) without an argument")
    run.add_argument("--sandbox", metavar="NAME", nargs="?", const="default", type=service_commands.sandbox_name, help="connect to a running sandbox Asterisk (see `speech-ivr sandbox up`)")
    run.add_argument("--workers", metavar="N", help="run N worker processes behind StasisBroadcast (apps APP-1 ... APP-N, metrics on the monitor port + 0 ... N-1), restarted when they die")

    call = command("call", service_commands.call, "place a test call into the IVR and print where Asterisk sent it")
    service_commands.add_call_arguments(call)

    demo = command("demo", service_commands.demo, "start a sandbox Asterisk and the app, place Korean test calls, show the results")
    demo.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")

    sandbox = command("sandbox", service_commands.sandbox, "a local Asterisk 22 for trying things out")
    sandbox.add_argument("action", choices=["up", "down", "status"])
    sandbox.add_argument("--name", default="default", type=service_commands.sandbox_name, help="instance name (default: %(default)s)")
    sandbox.add_argument("--port", type=int, help="HTTP/ARI port (default: a free one)")

    models = command("models", None, "Vosk models: list, download, install from a file, locate, verify")
    model_actions = models.add_subparsers(title="actions", required=True, metavar="ACTION")

    def model_action(name: str, handler: object, help: str) -> argparse.ArgumentParser:
        sub = model_actions.add_parser(name, help=help, description=help, parents=[common])
        sub.set_defaults(handler=handler, command=f"models {name}")
        return sub

    listing = model_action("list", service_commands.models_list, "the catalogue, with what is installed where")
    listing.add_argument("--json", action="store_true", help="print JSON")
    download = model_action("download", service_commands.models_download, "download a model into the cache (resumes, checks its MD5/SHA-256)")
    download.add_argument("target", help="a catalogue name or a URL of a model zip")
    download.add_argument("--sha256", help="the zip's SHA-256, checked after the download")
    download.add_argument("--md5", help="the zip's MD5, checked after the download")
    install = model_action("install", service_commands.models_install, "install a model from a zip or a directory, without the network")
    install.add_argument("source", type=Path, help="a model zip (as downloaded from alphacephei) or an unpacked model directory")
    install.add_argument("--name", help="the model's name (default: the zip's or directory's)")
    install.add_argument("--sha256", help="the zip's SHA-256")
    install.add_argument("--md5", help="the zip's MD5 (the catalogue's is checked when it knows the name)")
    where = model_action("path", service_commands.models_path, "the directory of an installed model")
    where.add_argument("name")
    verify = model_action("verify", service_commands.models_verify, "load a model and decode a second of silence")
    verify.add_argument("name", help="a catalogue name, a package or a directory")
    command("fetch-mermaid", service_commands.fetch_mermaid, "download Mermaid from the npm registry once, for the live monitor's flow graphs")
    return top

"""The admin's flow tools: ``init``, ``check``, ``simulate``, ``test-flow``, ``graph``, ``prompts``."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from ivr.cli.common import CliError, flow_named, project_flows, settings_of
from ivr.exits import Exit
from ivr.project import EXAMPLES_DIR


class Turn(argparse.Action):
    """``--say/--wav/--dtmf/--silence`` in the order given, into ``turns``."""

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        from ivr.simulate import Keys, Say, Silence, Wav

        kind = {"--say": Say, "--wav": Wav, "--dtmf": Keys, "--silence": Silence}[str(option_string)]
        namespace.turns = [*namespace.turns, kind() if kind is Silence else kind(values)]


def init(args: argparse.Namespace) -> int:
    """Copy the example project into a new (or empty) directory, touching no existing file."""
    target: Path = args.directory
    if target.exists() and not target.is_dir():
        raise CliError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise CliError(f"{target} is not empty: give a new or empty directory")
    shutil.copytree(EXAMPLES_DIR, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    print(f"wrote a starter project to {target}:")
    for path in sorted(target.rglob("*")):
        if path.is_file():
            print(f"  {path.relative_to(target)}")
    print(
        f"next:\n  cd {target}\n"
        "  speech-ivr check                                   # flows, grammars, test cases\n"
        "  speech-ivr simulate switchboard-ko --say 영업부     # a caller, offline\n"
        "  speech-ivr test-flow                               # the flows' regression cases\n"
        "  speech-ivr prompts render switchboard-ko --sounds /usr/share/asterisk/sounds\n"
        "  speech-ivr run                                     # reads ./config.toml\n"
        "and add extensions.conf's contexts to your dialplan (see its comments)."
    )
    return Exit.OK


def check(args: argparse.Namespace) -> int:
    from ivr.flow.check import run_check
    from ivr.speech.models import ModelNotFound, resolve_model_path
    from ivr.speech.vocabulary import VocabularyError, model_vocabulary

    settings = settings_of(args)
    models = settings.models
    paths = args.paths or [settings.flows_dir, settings.grammars_dir]

    def vocabulary(language: str) -> frozenset[str] | None:
        if language not in models:
            print(f"speech-ivr check: {language} words not checked: no model configured", file=sys.stderr)
            return None
        try:
            return model_vocabulary(resolve_model_path(models[language]))
        except (ModelNotFound, VocabularyError) as exc:
            print(f"speech-ivr check: {language} words not checked: {exc}", file=sys.stderr)
            return None

    return run_check(
        paths,
        args.sounds,
        sys.stdout,
        None if args.no_vocabulary else vocabulary,
        strict=args.strict,
    )


def graph(args: argparse.Namespace) -> int:
    from ivr.flow.graph import mermaid

    settings = settings_of(args)
    print(mermaid(flow_named(project_flows(settings), args.flow, settings)))
    return Exit.OK


def simulate(args: argparse.Namespace) -> int:
    from ivr.audio import AudioFileError, read_wav
    from ivr.simulate import Say, Wav, unheard_words

    wavs = [turn.path for turn in args.turns if isinstance(turn, Wav)]
    try:
        for path in wavs:  # before the model takes seconds to load
            read_wav(path)
    except AudioFileError as exc:
        raise CliError(f"--wav {exc}") from None
    simulator = _simulator(args, hears_audio=bool(wavs))
    for turn in args.turns:
        if isinstance(turn, Say) and (words := unheard_words(simulator.flow, turn.text)):
            print(
                f"speech-ivr simulate: warning: --say {turn.text!r}: the recognizer of flow "
                f"{simulator.flow.name!r} never hears {', '.join(map(repr, words))} (no grammar "
                "of the flow has the word): a caller saying this is heard otherwise",
                file=sys.stderr,
            )
    simulation = simulator.run(args.turns)
    if args.json:
        print(json.dumps(simulation.as_json(), ensure_ascii=False, indent=2))
    else:
        print(simulation.report())
    return Exit.OK


def test_flow(args: argparse.Namespace) -> int:
    from ivr.flow import FlowLoadError
    from ivr.flow.cases import load_cases
    from ivr.flow.loader import companion_file
    from ivr.flowtest import run_case

    settings = settings_of(args)
    flows = project_flows(settings)
    if args.flow is None:
        suites = [(name, path) for name, flow in flows.flows.items() if flow.source and (path := companion_file(flow.source, "cases"))]
        if not suites:
            raise CliError(f"no flow in {settings.flows_dir} has test cases: write FLOW.cases.yaml beside the flow (docs/flows.md)")
    else:
        flow = flow_named(flows, args.flow, settings)
        path = args.cases or (companion_file(flow.source, "cases") if flow.source else None)
        if path is None:
            raise CliError(f"flow {flow.name!r} has no test cases: write {settings.flows_dir / (flow.name + '.cases.yaml')} or give a cases file")
        if not path.is_file():
            raise CliError(f"{path}: no such file")
        suites = [(flow.name, path)]
    failed = total = 0
    for name, path in suites:
        try:
            cases = load_cases(path)
        except FlowLoadError as exc:
            raise CliError(str(exc)) from None
        simulator = _simulator(args, hears_audio=any(i.wav is not None for c in cases.cases for i in c.inputs), flow=name, flows=flows)
        if len(suites) > 1:
            print(f"{name} ({path})")
        for case in cases.cases:
            result = run_case(simulator, case, path.parent)
            total += 1
            print(f"{'PASS' if result.passed else 'FAIL'}  {case.name}")
            if not result.passed:
                failed += 1
                for problem in result.problems:
                    print(f"      {problem}")
                print("      " + result.simulation.report().replace("\n", "\n      "))
    print(f"{total - failed} passed, {failed} failed")
    return Exit.PROBLEMS if failed else Exit.OK


def render_prompts(args: argparse.Namespace) -> int:
    from ivr.prompt_rendering import render_flow_prompts

    settings = settings_of(args)
    return render_flow_prompts(
        args.flow, settings.flows_dir, settings.grammars_dir, args.sounds, force=args.force, out=sys.stdout
    )


def _simulator(args: argparse.Namespace, *, hears_audio: bool, flow: str | None = None, flows=None):  # type: ignore[no-untyped-def]
    """The simulator for a flow (the one named on the command line by default); with the
    flow's speech model loaded when ``hears_audio`` (WAV turns)."""
    from ivr.flow.compiled import compile_flow, compile_matchers
    from ivr.simulate import Simulator
    from ivr.speech.models import ModelNotFound, ModelStore

    settings = settings_of(args)
    flows = flows or project_flows(settings)
    chosen = flow_named(flows, flow or args.flow, settings)
    compiled = compile_flow(chosen, compile_matchers(flows.grammars))
    model = None
    if hears_audio:
        try:
            model = ModelStore(settings.models).get(chosen.language)
        except ModelNotFound as exc:
            raise CliError(
                f"flow {chosen.name!r} is in {chosen.language!r} and WAV input needs its model: {exc}"
            ) from None
    return Simulator(compiled, model)

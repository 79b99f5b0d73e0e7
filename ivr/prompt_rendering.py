"""``speech-ivr prompts render FLOW --sounds DIR``: a flow's prompts, spoken by espeak-ng.

``DIR`` is an Asterisk sounds root, as for ``speech-ivr check --sounds``: the prompt
``sound:speech-ivr/switchboard-ko/main`` becomes ``DIR/speech-ivr/switchboard-ko/main.wav``
(8 kHz mono 16-bit, what ``format_wav`` plays), said as ``FLOW.prompts.yaml`` writes
(:mod:`ivr.flow.prompt_texts`). A prompt is rendered again only when its text, voice or
speed changed (``NAME.key`` beside the file says what it holds), or with ``force``.

A file of the prompt that this did not render (``NAME.<any format>`` without the ``.key``,
in ``DIR`` or ``DIR/<language>``) is a recording: it is never overwritten. The sandbox's
:func:`ivr.sandbox.prompts.install_prompts` renders with :func:`render_prompt` too, so the
demo and the tests play what an admin gets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO

from ivr import espeak
from ivr.exits import Exit
from ivr.flow.diagnostics import FlowLoadError
from ivr.flow.loader import load_flows
from ivr.flow.model import Flow
from ivr.flow.prompt_texts import (
    PromptText,
    check_prompt_texts,
    expected_texts_path,
    flow_media,
    load_prompt_texts,
    local_sound,
    prompt_texts_path,
)
from ivr.flow.sound_check import AUDIO_EXTENSIONS

PROG = "speech-ivr prompts render"
RECORD_HINT = "or record the prompts yourself (docs/flows.md, Prompts)"


def render_prompt(said: PromptText, base: Path, *, force: bool = False) -> bool:
    """Render ``said`` to ``base`` + ``.wav`` unless that already says it; return whether
    it rendered. Raises :class:`ivr.espeak.EspeakError`."""
    return espeak.render(said.text, wav_of(base), voice=said.voice, speed=said.speed, force=force)


def wav_of(base: Path) -> Path:
    """``base`` with ``.wav`` added (a sound name may have dots of its own)."""
    return base.with_name(f"{base.name}.wav")


def flow_prompt_texts(flow: Flow) -> dict[str, PromptText]:
    """What the flow's ``FLOW.prompts.yaml`` says each media says (empty without one).
    Raises :class:`FlowLoadError` if the file has errors."""
    path = prompt_texts_path(flow)
    return load_prompt_texts(path).texts.said(flow.language) if path is not None else {}


@dataclass(frozen=True)
class _Plan:
    """What to do with one media of the flow, decided before anything is rendered."""

    media: str
    status: str
    """``render``, ``up to date``, ``no text``, ``recorded`` or ``skipped``."""
    detail: str = ""
    said: PromptText | None = None
    base: Path | None = None


def render_flow_prompts(
    flow_name: str,
    flows_dir: Path,
    grammars_dir: Path,
    sounds_dir: Path,
    *,
    force: bool = False,
    out: TextIO,
) -> int:
    """Render the ``sound:`` prompts of ``flow_name`` that have a text into ``sounds_dir``,
    printing one line per media and a summary to ``out``; return an :class:`Exit` status:
    OK, PROBLEMS (a prompt has no text or failed to render), USAGE (no such flow, files
    with errors) or UNAVAILABLE (espeak-ng or sox is not installed)."""
    try:
        flow_set = load_flows(flows_dir, grammars_dir)
    except FlowLoadError as error:
        print(error, file=out)
        return Exit.USAGE
    except OSError as error:
        print(f"{PROG}: cannot read {error.filename}: {error.strerror}", file=out)
        return Exit.USAGE
    flow = flow_set.get(flow_name)
    if flow is None:
        names = ", ".join(flow_set.flows) or "none"
        print(f"{PROG}: no flow {flow_name!r} in {flows_dir} (flows: {names})", file=out)
        return Exit.USAGE
    texts_path = prompt_texts_path(flow)
    if texts_path is None:
        print(f"{PROG}: no prompt texts: write them in {expected_texts_path(flow)}", file=out)
        said: Mapping[str, PromptText] = {}
        warnings = []
    else:
        try:
            texts = load_prompt_texts(texts_path)
        except FlowLoadError as error:
            print(error, file=out)
            return Exit.USAGE
        said = texts.texts.said(flow.language)
        warnings = check_prompt_texts(flow, flow_set.source_of(flow), texts)
    plans = [
        _plan(media, said.get(media), sounds_dir, flow.language, force)
        for media in flow_media(flow)
    ]
    if any(plan.status == "render" for plan in plans):
        try:
            espeak.require_tools()
        except espeak.EspeakMissing as error:
            print(f"{error}, {RECORD_HINT}", file=out)
            return Exit.UNAVAILABLE
    for warning in warnings:
        print(warning, file=out)
    counts = Counter(_carry_out(plan, out) for plan in plans)
    print(_summary(flow.name, counts, sounds_dir), file=out)
    return Exit.PROBLEMS if counts["no text"] or counts["failed"] else Exit.OK


def _plan(
    media: str, said: PromptText | None, sounds_dir: Path, language: str, force: bool
) -> _Plan:
    name = local_sound(media)
    if name is None:
        return _Plan(media, "skipped", "not a local sound: file")
    if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
        return _Plan(media, "skipped", f"not a file under {sounds_dir}")
    recording = _recording(sounds_dir, language, name)
    if recording is not None:  # whether the texts have it or not
        return _Plan(media, "recorded", f"{recording} (kept)")
    if said is None:
        return _Plan(media, "no text")
    base = sounds_dir / name
    wav = wav_of(base)
    if not force and espeak.is_current(wav, said.text, voice=said.voice, speed=said.speed):
        return _Plan(media, "up to date", str(wav))
    return _Plan(media, "render", str(wav), said, base)


def _recording(sounds_dir: Path, language: str, name: str) -> Path | None:
    """A file Asterisk would play for ``sound:NAME`` that was not rendered here (no stamp)."""
    ours = wav_of(sounds_dir / name)
    for base in (sounds_dir / language / name, sounds_dir / name):
        for extension in AUDIO_EXTENSIONS:
            path = base.with_name(f"{base.name}.{extension}")
            if path.is_file() and not (path == ours and espeak.stamp_of(ours).is_file()):
                return path
    return None


def _carry_out(plan: _Plan, out: TextIO) -> str:
    """Render a planned media; print its line and return its status."""
    status, detail = plan.status, plan.detail
    if plan.said is not None and plan.base is not None:
        try:
            render_prompt(plan.said, plan.base, force=True)
            status = "rendered"
        except (espeak.EspeakError, OSError) as error:
            status, detail = "failed", str(error)
    print(f"{status:<11} {plan.media}" + (f"  {detail}" if detail else ""), file=out)
    return status


def _summary(flow_name: str, counts: Counter[str], sounds_dir: Path) -> str:
    parts = [f"{counts['rendered']} rendered", f"{counts['up to date']} up to date"]
    parts.append(f"{counts['no text']} without text")
    parts += [
        f"{counts[status]} {status}"
        for status in ("recorded", "skipped", "failed")
        if counts[status]
    ]
    return f"{flow_name}: {', '.join(parts)} in {sounds_dir}"

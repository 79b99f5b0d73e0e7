"""Find the ``sound:`` prompts of the flows that have no audio file in the sounds directories.

Asterisk plays ``sound:NAME`` from ``NAME.<ext>`` in its sounds directory, trying the
channel's language first (``<lang>/NAME.<ext>``), for every format it has a module for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ivr.flow.diagnostics import Diagnostic
from ivr.flow.loader import FlowSet
from ivr.flow.model import Flow, Prompt
from ivr.flow.yaml_source import NodePath

AUDIO_EXTENSIONS = (
    "wav", "wav16", "WAV", "wav49", "gsm", "sln", "slin", "raw", "sln12", "sln16", "sln24",
    "sln32", "sln44", "sln48", "sln96", "sln192", "ulaw", "ul", "mu", "pcm", "alaw", "al",
    "alw", "g722", "g723", "g726-16", "g726-24", "g726-32", "g726-40", "g729", "ilbc", "siren7",
    "siren14", "ogg", "opus", "au", "vox", "mp3",
)  # fmt: skip
"""File extensions of the audio formats Asterisk plays (``format_*`` modules)."""

LOCAL_SOUND = re.compile(r"sound:(?!https?://)(?P<name>.*)")
"""A ``sound:`` media of a local file; ``sound:http(s)://...`` is fetched, not checked."""


def missing_prompts(flow_set: FlowSet, sounds_dirs: Sequence[Path]) -> list[Diagnostic]:
    """A warning at each ``sound:`` media of a prompt, reprompt or confirm prompt that has no
    file in any of ``sounds_dirs``, sorted. Other media schemes are not checked."""
    found = []
    for flow in flow_set.flows.values():
        file = flow_set.source_of(flow)
        for node, media in flow_media_nodes(flow):
            match = LOCAL_SOUND.fullmatch(media)
            if match and not _has_audio(match["name"], flow.language, sounds_dirs):
                message = (
                    f"no audio file for {media!r} in {', '.join(map(str, sounds_dirs))}"
                    f" (with or without {flow.language}/)"
                )
                found.append(file.diagnostic(file.nearest(node), message, "warning"))
    return sorted(found)


def flow_media_nodes(flow: Flow) -> Iterator[tuple[NodePath, str]]:
    """Every media URI of the flow's prompts, with its node in the flow's YAML."""
    for name, menu in flow.menus.items():
        at = ("menus", name)
        yield from _prompt_media((*at, "prompt"), menu.prompt)
        for kind, reprompts in (("no_input", menu.no_input), ("no_match", menu.no_match)):
            for index, reprompt in enumerate(reprompts):
                yield from _prompt_media((*at, kind, index), reprompt)
        for intent, route in menu.routes.items():
            if route.confirm is not None:
                yield from _prompt_media((*at, "routes", intent, "confirm"), route.confirm)


def _prompt_media(node: NodePath, prompt: Prompt) -> Iterator[tuple[NodePath, str]]:
    for index, media in enumerate(prompt):
        yield (*node, index), media


def _has_audio(name: str, language: str, sounds_dirs: Sequence[Path]) -> bool:
    if not name:
        return False
    # An absolute name ignores the directories, as in Asterisk (pathlib: dir / "/x" is "/x").
    bases = [path for directory in sounds_dirs for path in (directory / language, directory)]
    return any(
        (base / f"{name}.{extension}").is_file() for base in bases for extension in AUDIO_EXTENSIONS
    )

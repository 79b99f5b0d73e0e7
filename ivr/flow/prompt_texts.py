"""What a flow's prompts say: ``FLOW.prompts.yaml`` beside ``FLOW.yaml``, for espeak-ng.

``speech-ivr prompts render`` (:mod:`ivr.prompt_rendering`) turns these texts into the sound
files the flow's ``sound:`` prompts play; for production they are the script to record::

    # What the prompts of switchboard-ko.yaml say
    voice: ko+f2        # espeak-ng voice (default: the flow's language)
    speed: 150          # espeak-ng words per minute (default: 175, espeak-ng's own)
    prompts:
      sound:speech-ivr/switchboard-ko/main: 안녕하세요. 원하시는 부서를 말씀하시거나 ...
      sound:speech-ivr/switchboard-ko/no-input: 잘 들리지 않았습니다. ...

``prompts`` maps each ``sound:`` media of the flow's prompts, reprompts and confirm prompts,
written exactly as in the flow, to its words. Only local ``sound:`` files are rendered:
``sound:https://...``, ``tone:``, ``digits:`` and the other schemes need no text.

This module only reads and compares files; :func:`check_prompt_texts` warns about a media
of the flow without a text (at its first use in the flow) and a text no prompt plays.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ivr.flow.diagnostics import Diagnostic, FlowLoadError
from ivr.flow.loader import FlowSet, companion_file, validate_in_file
from ivr.flow.model import Flow
from ivr.flow.sound_check import LOCAL_SOUND, flow_media_nodes
from ivr.flow.source_file import SourceFile
from ivr.flow.yaml_source import NodePath, read_yaml

DEFAULT_SPEED = 175
"""espeak-ng's own default, in words per minute."""

Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class PromptTexts(BaseModel):
    """The contents of a ``FLOW.prompts.yaml`` file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    voice: str | None = Field(default=None, pattern=r"^[^\s-]\S*$")
    """An espeak-ng voice (``espeak-ng --voices``), with a variant: ``ko+f2``, ``en-us``."""
    speed: int = Field(default=DEFAULT_SPEED, ge=80, le=450)
    prompts: dict[Annotated[str, StringConstraints(min_length=1)], Words]
    """Media URI, as the flow writes it -> what it says."""

    def said(self, language: str) -> dict[str, PromptText]:
        """Each media's text with the voice and speed to say it in, for a flow in ``language``."""
        voice = self.voice or language
        return {media: PromptText(text, voice, self.speed) for media, text in self.prompts.items()}


@dataclass(frozen=True)
class PromptText:
    """Words, and how espeak-ng says them (voice and speed change the sound a great deal)."""

    text: str
    voice: str
    speed: int


@dataclass(frozen=True)
class PromptTextsFile:
    """Prompt texts with the file they were read from, to place warnings at its keys."""

    texts: PromptTexts
    file: SourceFile


def load_prompt_texts(path: Path) -> PromptTextsFile:
    """Read a ``FLOW.prompts.yaml``; raise :class:`FlowLoadError` with positioned errors."""
    file = SourceFile(path, read_yaml(path))
    return PromptTextsFile(validate_in_file(PromptTexts, file, file.source.data), file)


def prompt_texts_path(flow: Flow) -> Path | None:
    """The flow's ``FLOW.prompts.yaml`` (or ``.yml``), if it has one."""
    return companion_file(flow.source, "prompts") if flow.source is not None else None


def expected_texts_path(flow: Flow) -> Path:
    """Where the flow's prompt texts go: ``FLOW.prompts.yaml`` beside the flow's file."""
    source = flow.source or Path(f"{flow.name}.yaml")
    return source.with_name(f"{source.stem}.prompts.yaml")


def flow_media(flow: Flow) -> dict[str, NodePath]:
    """Every media the flow plays, once each, menu by menu (prompt, ``no_input`` and
    ``no_match`` reprompts, routes' confirm prompts), with the node of its first use."""
    found: dict[str, NodePath] = {}
    for node, media in flow_media_nodes(flow):
        found.setdefault(media, node)
    return found


def local_sound(media: str) -> str | None:
    """The sound name of a ``sound:NAME`` media that Asterisk plays from a local file, else
    None (``sound:https://...`` and other schemes)."""
    match = LOCAL_SOUND.fullmatch(media)
    return (match["name"] or None) if match else None


def check_prompt_texts(
    flow: Flow, flow_file: SourceFile, texts: PromptTextsFile
) -> list[Diagnostic]:
    """Warnings, sorted: each local ``sound:`` media of ``flow`` that ``texts`` has no text
    for (at its first use in ``flow_file``), and each text that no prompt of the flow plays
    as a local sound (at its key)."""
    used = flow_media(flow)
    missing = [m for m in used if local_sound(m) is not None and m not in texts.texts.prompts]
    found = [
        flow_file.diagnostic(
            flow_file.nearest(used[media]), f"no text for {media!r} in {texts.file.path}", "warning"
        )
        for media in missing
    ]
    flow_name = flow.source.name if flow.source is not None else repr(flow.name)
    for media in texts.texts.prompts:
        if media not in used:
            message = f"no prompt of {flow_name} plays this media"
            if close := difflib.get_close_matches(media, missing, n=1):
                message += f" (did you mean {close[0]!r}?)"
        elif local_sound(media) is None:
            message = "not a local sound: file: this text is never rendered"
        else:
            continue
        found.append(texts.file.diagnostic(("prompts", media), message, "warning", at_key=True))
    return sorted(found)


def check_flow_set_texts(flow_set: FlowSet) -> list[Diagnostic]:
    """:func:`check_prompt_texts` for every flow of the set that has prompt texts, with the
    errors of the texts files that do not load, sorted (for ``speech-ivr check``)."""
    found: list[Diagnostic] = []
    for flow in flow_set.flows.values():
        path = prompt_texts_path(flow)
        if path is None:
            continue
        try:
            texts = load_prompt_texts(path)
        except FlowLoadError as error:
            found += error.diagnostics
            continue
        found += check_prompt_texts(flow, flow_set.source_of(flow), texts)
    return sorted(found)

"""Spoken material for the shipped example flows: their prompts, and what test callers say.

Real deployments record their prompts; the sandbox renders them with espeak-ng so that
the demo and the tests run with nothing but Debian packages. The prompts' texts are the
shipped ``flows/FLOW.prompts.yaml`` files, rendered as ``speech-ivr prompts render`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.espeak import EspeakError
from ivr.flow.loader import load_flow, yaml_files
from ivr.flow.prompt_texts import PromptText
from ivr.project import EXAMPLES_DIR
from ivr.prompt_rendering import flow_prompt_texts, render_prompt

from .config import SOUNDS_DIR
from .errors import SandboxError
from .speech import silence, synthesize


@dataclass(frozen=True)
class Spoken(PromptText):
    """A caller's words as espeak-ng renders them (voice and speed matter a great deal)."""

    def render(self, sounds_dir: Path) -> str:
        """The media name of this utterance said by a caller, rendered into the sandbox's
        sounds at 16 kHz (``.sln16``: a slin16 test call hands it to the app as it is)."""
        return synthesize(self.text, sounds_dir, voice=self.voice, speed=self.speed, wide=True)


PROMPT_MEDIA_PREFIX = f"sound:{SOUNDS_DIR.name}/"
"""How the shipped flows' prompts name the sandbox's sounds (``sound:speech-ivr/...``)."""


def shipped_prompts() -> dict[str, PromptText]:
    """What the shipped flows' ``FLOW.prompts.yaml`` files say, by media name under
    ``sound:speech-ivr/``: what ``speech-ivr prompts render`` renders for them."""
    prompts: dict[str, PromptText] = {}
    for path in yaml_files(EXAMPLES_DIR / "flows"):
        for media, said in flow_prompt_texts(load_flow(path)).items():
            if not media.startswith(PROMPT_MEDIA_PREFIX):
                raise ValueError(f"{path}: {media!r} is not a sandbox sound ({PROMPT_MEDIA_PREFIX}...)")
            prompts[media.removeprefix(PROMPT_MEDIA_PREFIX)] = said
    return prompts


PROMPTS: dict[str, PromptText] = shipped_prompts()
"""Media name under ``sound:speech-ivr/`` -> what it says: every prompt of the shipped flows."""

SWITCHBOARD_KO_CALLERS: dict[str, Spoken] = {
    # espeak-ng's Korean is far from a human caller and most renderings decode wrongly.
    # ``python bench/callers.py`` picked these: the main menu routes them without a
    # confirmation as a test call plays them, 10 ms later, and over a mu-law line (billing's
    # best only the first two: callers answer 네 in case they are asked, see ``confirming``).
    # Hearing is deterministic, so a test call does what the simulator does with them, every
    # time. Accuracy over many renderings is bench/'s job.
    "sales": Spoken("영업", "ko+f3", 130),
    "support": Spoken("환불", "ko+f2", 130),
    "billing": Spoken("청구서", "ko+f1", 130),
    "tech": Spoken("오류", "ko+m1", 130),
    "operator": Spoken("사람", "ko+f3", 130),
}
"""Intent of the main menu of flows/switchboard-ko.yaml -> a rendering of one of its phrases."""

KO_CALLERS: dict[str, Spoken] = {
    # The sub-menus and confirmations, each checked in its menu's grammar.
    "support/exchange": Spoken("교환", "ko+f2", 130),
    "order/change": Spoken("변경", "ko+f2", 130),
    "yes": Spoken("네", "ko+f2", 130),
    "no": Spoken("아니요", "ko+f2", 130),
}


def confirming(sounds_dir: Path, spoken: Spoken) -> str:
    """A caller who says ``spoken`` and then, in case the menu asks "did you say ...?", 네."""
    return script(sounds_dir, spoken, 2.0, KO_CALLERS["yes"])


def install_prompts(sounds_dir: Path, prompts: Mapping[str, PromptText] = PROMPTS) -> list[str]:
    """Render prompts (by default those of the shipped flows) into ``sounds_dir``, the
    sandbox's ``speech-ivr`` sounds, under their names, exactly as ``speech-ivr prompts
    render`` does; return their media names."""
    for name, said in prompts.items():
        try:
            render_prompt(said, sounds_dir / name)
        except EspeakError as error:
            raise SandboxError(str(error)) from error
    return [f"{sounds_dir.name}/{name}" for name in prompts]


def script(sounds_dir: Path, *steps: Spoken | float) -> str:
    """A caller who says several things with pauses (seconds) between them, as one media
    string for ``Playback()`` (which plays ``a&b&c`` in a row)."""
    return "&".join(
        silence(step, sounds_dir) if isinstance(step, (int, float)) else step.render(sounds_dir)
        for step in steps
    )

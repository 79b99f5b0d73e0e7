"""Spoken material for the shipped example flows: their prompts, and what test callers say.

Real deployments record their prompts; the sandbox renders them with espeak-ng so that
the demo and the tests run with nothing but Debian packages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .speech import synthesize


@dataclass(frozen=True)
class Spoken:
    """A caller's words as espeak-ng renders them (voice and speed matter a great deal)."""

    text: str
    voice: str
    speed: int

    def render(self, sounds_dir: Path) -> str:
        """The media name of this utterance, rendered into the sandbox's sounds."""
        return synthesize(self.text, sounds_dir, voice=self.voice, speed=self.speed)


PROMPTS: dict[str, Spoken] = {
    "switchboard-ko/main": Spoken(
        "안녕하세요. 원하시는 부서를 말씀해 주세요. 영업부, 고객지원, 요금, 기술지원, 상담원.", "ko+f2", 150
    ),
    "switchboard-en/main": Spoken(
        "Hello. Which department would you like? Sales, support, billing, technical support, "
        "or an operator.",
        "en-us",
        160,
    ),
}
"""Media name under ``sound:speech-ivr/`` -> what it says."""

SWITCHBOARD_KO_CALLERS: dict[str, Spoken] = {
    # espeak-ng's Korean is far from a human caller and most renderings decode wrongly or
    # unstably; these decoded to their intent every time, offline with 60-300 ms of lead-in
    # and through the sandbox Asterisk (accuracy over many renderings is bench/'s job).
    "sales": Spoken("영업부", "ko+f2", 130),
    "support": Spoken("환불", "ko+f2", 130),
    "billing": Spoken("요금 납부", "ko+f3", 130),
    "tech": Spoken("오류", "ko+f2", 130),
    "operator": Spoken("상담원", "ko+f5", 130),
}
"""Intent of flows/switchboard-ko.yaml -> a rendering of one of its phrases."""


def install_prompts(sounds_dir: Path) -> list[str]:
    """Render every shipped prompt into ``sounds_dir`` (the sandbox's ``speech-ivr`` sounds)."""
    media = []
    for name, utterance in PROMPTS.items():
        subdir, _, stem = name.rpartition("/")
        media.append(
            synthesize(
                utterance.text,
                sounds_dir,
                voice=utterance.voice,
                speed=utterance.speed,
                subdir=subdir,
                name=stem,
            )
        )
    return media

"""Spoken material for the shipped example flows: their prompts, and what test callers say.

Real deployments record their prompts; the sandbox renders them with espeak-ng so that
the demo and the tests run with nothing but Debian packages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .speech import silence, synthesize


@dataclass(frozen=True)
class Spoken:
    """A caller's words as espeak-ng renders them (voice and speed matter a great deal)."""

    text: str
    voice: str
    speed: int

    def render(self, sounds_dir: Path) -> str:
        """The media name of this utterance said by a caller, rendered into the sandbox's
        sounds at 16 kHz (``.sln16``: a slin16 test call hands it to the app as it is)."""
        return synthesize(self.text, sounds_dir, voice=self.voice, speed=self.speed, wide=True)


PROMPTS: dict[str, Spoken] = {
    "switchboard-ko/main": Spoken("안녕하세요. 원하시는 부서를 말씀하시거나 번호를 눌러 주세요. 영업부 1번, 고객지원 2번, 요금 3번, 기술지원 4번, 상담원 0번.", "ko+f2", 150),
    "switchboard-ko/no-input": Spoken("잘 들리지 않았습니다. 원하시는 부서를 말씀해 주세요.", "ko+f2", 150),
    "switchboard-ko/no-match": Spoken("죄송합니다. 다시 한 번 말씀해 주세요.", "ko+f2", 150),
    "switchboard-ko/confirm-sales": Spoken("영업부로 연결할까요? 네 또는 아니요로 답해 주세요.", "ko+f2", 150),
    "switchboard-ko/confirm-support": Spoken("고객지원으로 연결할까요? 네 또는 아니요로 답해 주세요.", "ko+f2", 150),
    "switchboard-ko/confirm-billing": Spoken("요금 문의로 연결할까요? 네 또는 아니요로 답해 주세요.", "ko+f2", 150),
    "switchboard-ko/confirm-tech": Spoken("기술지원으로 연결할까요? 네 또는 아니요로 답해 주세요.", "ko+f2", 150),
    "switchboard-ko/confirm-operator": Spoken("상담원을 연결할까요? 네 또는 아니요로 답해 주세요.", "ko+f2", 150),
    "switchboard-ko/support": Spoken("고객지원입니다. 환불, 교환, 배송 중에서 말씀해 주세요.", "ko+f2", 150),
    "switchboard-ko/order": Spoken("교환과 반품입니다. 주문 변경 또는 조회를 말씀해 주세요.", "ko+f2", 150),
    "switchboard-en/main": Spoken("Hello. Which department would you like? Sales, support, billing, technical support, or an operator.", "en-us", 160),
    "switchboard-en/main-keys": Spoken("You can also press 1 for sales, 2 for support, 3 for billing, 4 for technical support, or 5 for an operator.", "en-us", 160),
    "switchboard-en/no-input": Spoken("Sorry, I did not hear you.", "en-us", 160),
    "switchboard-en/no-match": Spoken("Sorry, I did not understand.", "en-us", 160),
    "switchboard-en/support": Spoken("Support. Is it about a refund, an order, or your account?", "en-us", 160),
    "switchboard-en/support-no-match": Spoken("Sorry. Please say refund, order, or account.", "en-us", 160),
    "switchboard-en/confirm-sales": Spoken("Did you say sales?", "en-us", 160),
    "switchboard-en/confirm-support": Spoken("Did you say support?", "en-us", 160),
    "switchboard-en/confirm-billing": Spoken("Did you say billing?", "en-us", 160),
    "switchboard-en/confirm-tech": Spoken("Did you say technical support?", "en-us", 160),
    "switchboard-en/confirm-operator": Spoken("Did you want an operator?", "en-us", 160),
}
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


def install_prompts(sounds_dir: Path, prompts: Mapping[str, Spoken] = PROMPTS) -> list[str]:
    """Render prompts (by default those of the shipped flows) into ``sounds_dir``, the
    sandbox's ``speech-ivr`` sounds, under their names."""
    media = []
    for name, spoken in prompts.items():
        subdir, _, stem = name.rpartition("/")
        media.append(
            synthesize(
                spoken.text, sounds_dir, voice=spoken.voice, speed=spoken.speed, subdir=subdir, name=stem
            )
        )
    return media


def script(sounds_dir: Path, *steps: Spoken | float) -> str:
    """A caller who says several things with pauses (seconds) between them, as one media
    string for ``Playback()`` (which plays ``a&b&c`` in a row)."""
    return "&".join(
        silence(step, sounds_dir) if isinstance(step, (int, float)) else step.render(sounds_dir)
        for step in steps
    )

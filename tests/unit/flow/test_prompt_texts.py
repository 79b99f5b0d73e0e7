"""FLOW.prompts.yaml: what a flow's prompts say, compared with the prompts the flow plays."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ivr.flow import FlowLoadError, load_flow, load_flows
from ivr.flow.loader import companion_kind, load_files, yaml_files
from ivr.flow.prompt_texts import (
    DEFAULT_SPEED,
    PromptText,
    check_flow_set_texts,
    check_prompt_texts,
    flow_media,
    load_prompt_texts,
    local_sound,
    prompt_texts_path,
)
from ivr.project import EXAMPLES_DIR

FLOW = """\
name: desk
language: en
start: main
fallback: {context: ivr-fallback, extension: s}
menus:
  main:
    prompt: sound:desk/main
    routes:
      sales:
        context: ivr-dest
        extension: sales
        key: 1
        confirm: sound:desk/confirm-sales
      support: {menu: support, key: 2}
    no_input: [sound:desk/sorry, [sound:desk/sorry, tone:ring]]
  support:
    prompt: [sound:desk/support, sound:https://example.com/options.wav]
    routes:
      refund: {context: ivr-dest, extension: refund, key: 1}
      back: {menu: main, key: 9}
    no_input: sound:desk/sorry
"""

TEXTS = """\
voice: en-us
speed: 160
prompts:
  sound:desk/main: Sales or support?
  sound:desk/confirm-sales: Did you say sales?
  sound:desk/sorry: Sorry.
  sound:desk/support: Support.
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def flow_path(tmp_path: Path) -> Path:
    write(tmp_path / "desk.prompts.yaml", TEXTS)
    return write(tmp_path / "desk.yaml", FLOW)


def warnings(flow_path: Path) -> list[str]:
    flow = load_flow(flow_path)
    texts_path = prompt_texts_path(flow)
    assert texts_path is not None
    flow_set = load_files([flow_path], [])
    found = check_prompt_texts(flow, flow_set.source_of(flow), load_prompt_texts(texts_path))
    return [str(d).removeprefix(f"{flow_path.parent}/") for d in found]


def test_every_text_is_read_with_the_files_voice_and_speed(flow_path: Path) -> None:
    texts = load_prompt_texts(flow_path.with_name("desk.prompts.yaml")).texts
    said = texts.said("en")
    assert said["sound:desk/main"] == PromptText("Sales or support?", "en-us", 160)
    assert len(said) == 4


def test_voice_and_speed_default_to_the_flows_language_and_espeaks_speed(tmp_path: Path) -> None:
    path = write(tmp_path / "x.prompts.yaml", "prompts:\n  sound:a: |\n    Hello.\n")
    assert load_prompt_texts(path).texts.said("ko") == {
        "sound:a": PromptText("Hello.", "ko", DEFAULT_SPEED)
    }


def test_a_file_that_covers_the_flow_has_no_warnings(flow_path: Path) -> None:
    assert warnings(flow_path) == []


def test_a_missing_text_is_warned_once_at_the_first_use_of_its_media(flow_path: Path) -> None:
    write(
        flow_path.with_name("desk.prompts.yaml"), TEXTS.replace("  sound:desk/sorry: Sorry.\n", "")
    )
    assert warnings(flow_path) == [
        (
            f"desk.yaml:15:16: warning: menus.main.no_input[0]: no text for 'sound:desk/sorry'"
            f" in {flow_path.with_name('desk.prompts.yaml')}"
        )
    ]


def test_a_text_no_prompt_plays_is_warned_at_its_key(flow_path: Path) -> None:
    write(flow_path.with_name("desk.prompts.yaml"), TEXTS + "  sound:desk/old-menu: Gone.\n")
    assert warnings(flow_path) == [
        (
            "desk.prompts.yaml:8:3: warning: prompts.sound:desk/old-menu:"
            " no prompt of desk.yaml plays this media"
        )
    ]


def test_a_misspelt_media_is_warned_twice_with_a_suggestion(flow_path: Path) -> None:
    write(flow_path.with_name("desk.prompts.yaml"), TEXTS.replace("desk/support:", "desk/suport:"))
    assert warnings(flow_path) == [
        (
            "desk.prompts.yaml:7:3: warning: prompts.sound:desk/suport: no prompt of desk.yaml plays"
            " this media (did you mean 'sound:desk/support'?)"
        ),
        (
            f"desk.yaml:17:14: warning: menus.support.prompt[0]: no text for 'sound:desk/support'"
            f" in {flow_path.with_name('desk.prompts.yaml')}"
        ),
    ]


def test_a_text_for_a_media_that_is_not_a_local_file(flow_path: Path) -> None:
    write(flow_path.with_name("desk.prompts.yaml"), TEXTS + "  tone:ring: Ring ring.\n")
    assert warnings(flow_path) == [
        (
            "desk.prompts.yaml:8:3: warning: prompts.tone:ring:"
            " not a local sound: file: this text is never rendered"
        )
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "prompts: {}\nspeed: 10\n",
            "2:8: error: speed: Input should be greater than or equal to 80",
        ),
        ("prompts: {}\nprompt: {}\n", "2:1: error: prompt: unknown key"),
        (
            "prompts:\n  sound:a: ''\n",
            "2:12: error: prompts.sound:a: String should have at least 1 character",
        ),
        ("voice: -x\nprompts: {}\n", "1:8: error: voice: String should match pattern"),
        ("voice: ko\n", "1:1: error: missing required key 'prompts'"),
    ],
)
def test_errors_are_placed_at_their_node(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "x.prompts.yaml", text)
    with pytest.raises(FlowLoadError) as caught:
        load_prompt_texts(path)
    assert str(caught.value).removeprefix(f"{path}:").startswith(expected)


def test_media_are_listed_once_menu_by_menu_and_only_local_sounds_need_texts() -> None:
    flow = load_flow(EXAMPLES_DIR / "flows/switchboard-en.yaml")
    media = flow_media(flow)
    assert list(media)[:4] == [
        "sound:speech-ivr/switchboard-en/main",
        "sound:speech-ivr/switchboard-en/no-input",
        "sound:speech-ivr/switchboard-en/no-match",  # first used by the first no_match...
        "sound:speech-ivr/switchboard-en/main-keys",  # ... the second with this one
    ]
    assert media["sound:speech-ivr/switchboard-en/no-input"] == ("menus", "main", "no_input", 0, 0)
    assert len(media) == 11
    assert local_sound("sound:speech-ivr/a") == "speech-ivr/a"
    assert [local_sound(m) for m in ("sound:https://x/a.wav", "tone:ring", "sound:")] == [None] * 3


def test_the_shipped_flows_texts_cover_every_prompt_and_nothing_else() -> None:
    flow_set = load_flows(EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars")
    assert set(flow_set.flows) == {"switchboard-ko", "switchboard-en"}
    for flow in flow_set.flows.values():
        assert prompt_texts_path(flow) is not None, flow.name
    assert check_flow_set_texts(flow_set) == []


def test_the_shipped_texts_are_companions_not_flows() -> None:
    shipped = sorted((EXAMPLES_DIR / "flows").glob("*.prompts.yaml"))
    assert [path.name for path in shipped] == [
        "switchboard-en.prompts.yaml",
        "switchboard-ko.prompts.yaml",
    ]
    assert all(companion_kind(path) == "prompts" for path in shipped)
    assert not set(shipped) & set(yaml_files(EXAMPLES_DIR / "flows"))


def test_a_flow_set_reports_a_broken_texts_file(flow_path: Path) -> None:
    write(flow_path.with_name("desk.prompts.yaml"), "prompts: [a]\n")
    found = check_flow_set_texts(load_files([flow_path], []))
    assert [(d.severity, d.line) for d in found] == [("error", 1)]

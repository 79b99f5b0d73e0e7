"""Loading flows and grammars from YAML: the shipped examples, and every kind of error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ivr.flow import (
    Destination,
    Diagnostic,
    FlowLoadError,
    load_flow,
    load_flows,
    load_grammar,
)
from ivr.flow.yaml_source import MAX_FILE_BYTES
from ivr.project import EXAMPLES_DIR

REPO = Path(__file__).resolve().parents[3]

GRAMMAR = """\
name: desk
language: en
intents:
  sales: [sales, buy]
  support: [support, help]
"""

FLOW = """\
name: desk
language: en
start: main
fallback: {context: ivr-fallback, extension: s}
menus:
  main:
    prompt: sound:desk
    grammar: desk
    routes:
      sales: {context: ivr-dest, extension: sales}
      support: {context: ivr-dest, extension: support}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A directory with ``flows/`` and ``grammars/``, holding a valid desk flow and grammar."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "grammars").mkdir()
    write(tmp_path / "grammars/desk.yaml", GRAMMAR)
    write(tmp_path / "flows/desk.yaml", FLOW)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(config: Path) -> list[str]:
    """The diagnostics of loading ``config``, with file names relative to it."""
    with pytest.raises(FlowLoadError) as raised:
        load_flows(config / "flows", config / "grammars")
    return [str(d).removeprefix(f"{config}/") for d in raised.value.diagnostics]


def flow_errors(tmp_path: Path, text: str) -> list[str]:
    """The diagnostics of loading ``text`` as the single flow file ``f.yaml``."""
    with pytest.raises(FlowLoadError) as raised:
        load_flow(write(tmp_path / "f.yaml", text))
    return [str(d).removeprefix(f"{tmp_path}/") for d in raised.value.diagnostics]


# The shipped examples


def test_shipped_flows_and_grammars_load_cleanly() -> None:
    flows = load_flows(EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars")

    assert sorted(flows.flows) == ["switchboard-en", "switchboard-ko"]
    assert sorted(flows.grammars) == [
        "order-ko",
        "support-ko",
        "switchboard-en",
        "switchboard-en-support",
        "switchboard-ko",
    ]
    assert flows.diagnostics == ()


def test_korean_switchboard_flow() -> None:
    flow = load_flows(EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars").get("switchboard-ko")

    assert flow is not None
    assert flow.language == "ko"
    assert flow.source == EXAMPLES_DIR / "flows/switchboard-ko.yaml"
    assert flow.fallback == Destination(context="ivr-fallback", extension="s")
    menu = flow.start_menu
    assert menu.prompt == ("sound:speech-ivr/switchboard-ko/main",)
    assert menu.grammar == "switchboard-ko"
    assert menu.min_score == 35
    assert (menu.timeouts.no_input, menu.timeouts.end_of_speech, menu.timeouts.max_speech) == (
        5.0,
        0.6,
        8.0,
    )
    assert {intent: route.destination for intent, route in menu.routes.items()} == {
        "support": None,  # a sub-menu
        **{
            intent: Destination(context="ivr-dest", extension=intent)
            for intent in ("sales", "billing", "tech", "operator")
        },
    }
    assert menu.routes["support"].menu == "support"
    assert {intent: route.key for intent, route in menu.routes.items()} == {
        "sales": "1", "support": "2", "billing": "3", "tech": "4", "operator": "0"
    }
    assert (menu.confirm_below, menu.retries) == (95, 2)
    assert flow.menus["order"].fallback == Destination(context="ivr-dest", extension="operator")


def test_korean_switchboard_grammar() -> None:
    grammar = load_grammar(EXAMPLES_DIR / "grammars/switchboard-ko.yaml")

    assert grammar.language == "ko"
    assert grammar.intents == {
        "sales": ("영업부", "영업", "구매 문의", "구매"),
        "support": ("고객 지원", "고객센터", "환불", "배송 문의"),
        "billing": ("요금", "요금 납부", "납부", "청구서"),
        "tech": ("기술지원", "기술 지원", "장애", "인터넷 장애", "오류", "수리"),
        "operator": ("상담원", "상담", "사람", "직원 연결"),
    }


def test_unknown_name_gives_no_flow(config: Path) -> None:
    assert load_flows(config / "flows", config / "grammars").get("nope") is None


# Single files


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path / "front-desk.yml", FLOW.replace("name: desk\n", ""))

    flow = load_flow(path)

    assert flow.name == "front-desk"
    assert flow.source == path


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("800ms", 0.8), ("5s", 5.0), ("2.5", 2.5), ("3", 3.0), ("'1.5 s'", 1.5)],
)
def test_durations(tmp_path: Path, written: str, seconds: float) -> None:
    text = FLOW + f"    timeouts: {{no_input: {written}}}\n"

    assert load_flow(write(tmp_path / "f.yaml", text)).start_menu.timeouts.no_input == seconds


def test_prompts_routes_and_keys(tmp_path: Path) -> None:
    text = FLOW.replace("prompt: sound:desk", "prompt: [sound:hello, sound:desk]").replace(
        "{context: ivr-dest, extension: support}", "{menu: main, key: 9}"
    )

    menu = load_flow(write(tmp_path / "f.yaml", text)).start_menu

    assert menu.prompt == ("sound:hello", "sound:desk")
    assert menu.routes["sales"].destination == Destination(context="ivr-dest", extension="sales")
    assert (menu.routes["support"].menu, menu.routes["support"].destination) == ("main", None)
    assert menu.routes["support"].key == "9"  # `key: 9` is a number in YAML; keys are text
    assert menu.route_for_keys("9") == "support"


def test_a_menu_without_grammar_answers_with_keys(tmp_path: Path) -> None:
    text = FLOW.replace("    grammar: desk\n", "").replace("sales}", "sales, key: '1'}")
    text = text.replace("support}", "support, key: '2'}")

    menu = load_flow(write(tmp_path / "f.yaml", text)).start_menu

    assert (menu.grammar, menu.takes_keys) == (None, True)


def test_a_bad_duration_is_reported_at_its_value(tmp_path: Path) -> None:
    text = FLOW + "    timeouts:\n      no_input: soon\n"

    assert flow_errors(tmp_path, text) == [
        "f.yaml:13:17: error: menus.main.timeouts.no_input:"
        " expected a duration such as 5, 2.5, '5s' or '800ms'"
    ]


def test_a_missing_key_is_reported_at_its_mapping(tmp_path: Path) -> None:
    text = FLOW.replace("    prompt: sound:desk\n", "")

    assert flow_errors(tmp_path, text) == [
        "f.yaml:6:3: error: menus.main: missing required key 'prompt'"
    ]


def test_a_missing_top_level_key_is_reported_at_the_document(tmp_path: Path) -> None:
    text = FLOW.replace("language: en\n", "")

    assert flow_errors(tmp_path, text) == ["f.yaml:1:1: error: missing required key 'language'"]


def test_an_unknown_key_is_reported_at_the_key(tmp_path: Path) -> None:
    text = FLOW.replace("    prompt:", "    promt:")

    assert flow_errors(tmp_path, text) == [
        "f.yaml:6:3: error: menus.main: missing required key 'prompt'",
        "f.yaml:7:5: error: menus.main.promt: unknown key",
    ]


def test_the_source_is_not_for_the_file_to_set(tmp_path: Path) -> None:
    assert flow_errors(tmp_path, FLOW + "source: elsewhere.yaml\n") == [
        "f.yaml:12:1: error: source: unknown key"
    ]


def test_wrong_types(tmp_path: Path) -> None:
    text = FLOW.replace("start: main", "start: [main]") + "    min_score: high\n"

    assert flow_errors(tmp_path, text) == [
        "f.yaml:3:1: error: start: Input should be a valid string",
        "f.yaml:12:16: error: menus.main.min_score:"
        " Input should be a valid number, unable to parse string as a number",
    ]


def test_not_a_mapping(tmp_path: Path) -> None:
    assert flow_errors(tmp_path, "- just\n- a list\n") == [
        "f.yaml:1:1: error: Input should be a valid dictionary or instance of Flow"
    ]


def test_an_empty_file(tmp_path: Path) -> None:
    assert flow_errors(tmp_path, "# nothing yet\n") == [
        "f.yaml:1:1: error: Input should be a valid dictionary or instance of Flow"
    ]


def test_a_grammar_intent_needs_phrases(tmp_path: Path) -> None:
    path = write(tmp_path / "g.yaml", GRAMMAR.replace("[support, help]", "[]"))

    with pytest.raises(FlowLoadError) as raised:
        load_grammar(path)

    assert [(d.line, d.column) for d in raised.value.diagnostics] == [(5, 3)]
    assert "intents.support: Tuple should have at least 1 item" in str(raised.value)


def test_scalars_are_read_the_yaml_1_2_way(tmp_path: Path) -> None:
    """``no`` stays text (it can name an intent); ``0123`` is not the octal 83."""
    grammar = load_grammar(
        write(tmp_path / "g.yaml", "language: no\nintents: {yes: [yes], no: [no, off]}\n")
    )
    flow_text = FLOW.replace("extension: sales", "extension: 0123")
    flow = load_flow(write(tmp_path / "f.yaml", flow_text))

    assert grammar.language == "no"
    assert grammar.intents == {"yes": ("yes",), "no": ("no", "off")}
    assert flow.start_menu.routes["sales"].extension == "0123"


# YAML syntax and safety


def test_duplicate_keys_are_reported_at_the_second_one(tmp_path: Path) -> None:
    text = FLOW.replace("      support:", "      sales: {context: x, extension: y}\n      support:")

    assert flow_errors(tmp_path, text) == [
        "f.yaml:11:7: error: duplicate key 'sales' (first defined on line 10)"
    ]


def test_tabs(tmp_path: Path) -> None:
    text = FLOW.replace("    prompt:", "\tprompt:")

    assert flow_errors(tmp_path, text) == [
        "f.yaml:7:1: error: invalid YAML: found character '\\t' that cannot start any token"
        " (indent with spaces, not tabs)"
    ]


def test_bad_indentation(tmp_path: Path) -> None:
    text = FLOW.replace("    grammar:", "   grammar:")

    assert flow_errors(tmp_path, text) == [
        "f.yaml:8:4: error: invalid YAML: while parsing a block mapping (line 6, column 3):"
        " expected <block end>, but found '<block mapping start>'"
    ]


def test_an_unclosed_quote(tmp_path: Path) -> None:
    text = FLOW.replace("prompt: sound:desk", "prompt: 'sound:desk")

    [error] = flow_errors(tmp_path, text)

    assert error.startswith("f.yaml:")
    assert "while scanning a quoted scalar (line 7, column 13): found unexpected end" in error


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a: &a [" + ", ".join(["lol"] * 10) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")

    [error] = flow_errors(tmp_path, "\n".join(lines) + "\n")

    assert "error: the document expands to more than 100000 nodes" in error


def test_an_alias_into_itself_is_refused(tmp_path: Path) -> None:
    assert flow_errors(tmp_path, "menus: &m {main: *m}\n") == [
        "f.yaml:1:8: error: an alias refers to a node that contains it"
    ]


def test_aliases_within_limits_work(tmp_path: Path) -> None:
    text = FLOW.replace("sales: {", "sales: &dest {").replace(
        "{context: ivr-dest, extension: support}", "*dest"
    )

    routes = load_flow(write(tmp_path / "f.yaml", text)).start_menu.routes
    assert routes["support"] == routes["sales"]


def test_merge_keys_are_refused(tmp_path: Path) -> None:
    [error] = flow_errors(tmp_path, "base: &b {language: en}\nflow:\n  <<: *b\n")

    assert error.startswith("f.yaml:3:3: error: merge keys ('<<') are not supported")


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))

    with pytest.raises(FlowLoadError) as raised:
        load_flow(path)

    assert str(raised.value) == f"{path}:1:1: error: file is larger than the limit of 1048576 bytes"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(FLOW.encode("utf-8") + "    # caf\xe9\n".encode("latin-1"))

    with pytest.raises(FlowLoadError) as raised:
        load_flow(path)

    assert str(raised.value) == f"{path}:12:1: error: file is not UTF-8 text"


# Several files: everything is reported at once, and cross-checked


def test_all_errors_of_all_files_come_at_once(config: Path) -> None:
    write(config / "flows/a.yaml", FLOW.replace("start: main", "start: 5s:"))
    write(config / "flows/b.yaml", FLOW.replace("name: desk", "name: b").replace("fallback, extension: s}", "fallback}"))
    write(config / "grammars/c.yaml", "name: c\nlanguage: en\nintents: {x: [a], x: [b]}\n")

    assert load(config) == [
        "flows/a.yaml:3:10: error: invalid YAML: mapping values are not allowed here",
        "flows/b.yaml:4:1: error: fallback: missing required key 'extension'",
        "grammars/c.yaml:3:19: error: duplicate key 'x' (first defined on line 3)",
    ]


def test_a_menu_grammar_that_does_not_exist(config: Path) -> None:
    write(config / "flows/desk.yaml", FLOW.replace("grammar: desk", "grammar: dsk"))

    assert load(config) == [
        "flows/desk.yaml:8:14: error: menus.main.grammar: there is no grammar 'dsk'"
        " (did you mean 'desk'?)"
    ]


def test_a_grammar_that_failed_to_load_is_not_reported_missing(config: Path) -> None:
    write(config / "grammars/desk.yaml", GRAMMAR.replace("language: en", "langauge: en"))

    assert load(config) == [
        "grammars/desk.yaml:1:1: error: missing required key 'language'",
        "grammars/desk.yaml:2:1: error: langauge: unknown key",
    ]


def test_a_start_menu_that_does_not_exist(config: Path) -> None:
    write(config / "flows/desk.yaml", FLOW.replace("start: main", "start: mian"))

    assert load(config) == [
        "flows/desk.yaml:3:8: error: start: there is no menu 'mian' (did you mean 'main'?)"
    ]


def test_a_route_for_an_intent_the_grammar_does_not_have(config: Path) -> None:
    write(config / "flows/desk.yaml", FLOW.replace("      support:", "      suport:"))

    assert load(config) == [
        "flows/desk.yaml:9:5: warning: menus.main.routes: no route for 'support' of grammar 'desk'",
        "flows/desk.yaml:11:7: error: menus.main.routes.suport: grammar 'desk' has no intent"
        " 'suport' (did you mean 'support'?)",
    ]


def test_a_grammar_in_another_language(config: Path) -> None:
    write(config / "grammars/desk.yaml", GRAMMAR.replace("language: en", "language: ko"))

    assert load(config) == [
        "flows/desk.yaml:8:14: error: menus.main.grammar: grammar 'desk' is in language 'ko',"
        " the flow in 'en'"
    ]


def test_two_flows_with_the_same_name(config: Path) -> None:
    write(config / "flows/other.yaml", FLOW)

    assert load(config) == [
        f"flows/other.yaml:1:7: error: name: flow 'desk' is already defined in"
        f" {config}/flows/desk.yaml"
    ]


def test_two_grammars_with_the_same_name(config: Path) -> None:
    write(config / "grammars/copy.yml", GRAMMAR.replace("name: desk\n", "name: desk # again\n"))

    assert load(config) == [
        f"grammars/desk.yaml:1:7: error: name: grammar 'desk' is already defined in"
        f" {config}/grammars/copy.yml"
    ]


def test_the_same_phrase_in_two_intents(config: Path) -> None:
    write(config / "grammars/desk.yaml", GRAMMAR.replace("[support, help]", "[support, 'Sa-les!']"))

    assert load(config) == [
        "grammars/desk.yaml:5:22: error: intents.support[1]: the phrase 'Sa-les!' is the same as"
        " 'sales' of intent 'sales' (phrases are compared without case, punctuation or spaces)"
    ]


def test_a_phrase_without_words(config: Path) -> None:
    write(config / "grammars/desk.yaml", GRAMMAR.replace("[support, help]", "[support, '?']"))

    assert load(config) == [
        "grammars/desk.yaml:5:22: error: intents.support[1]: the phrase '?' has no words"
    ]


def test_an_intent_without_a_route_is_only_a_warning(config: Path) -> None:
    unrouted = "      support: {context: ivr-dest, extension: support}\n"
    write(config / "flows/desk.yaml", FLOW.replace(unrouted, ""))

    flows = load_flows(config / "flows", config / "grammars")

    assert flows.get("desk") is not None
    assert [str(d).removeprefix(f"{config}/") for d in flows.diagnostics] == [
        "flows/desk.yaml:9:5: warning: menus.main.routes: no route for 'support' of grammar 'desk'"
    ]


def test_hidden_and_other_files_are_ignored(config: Path) -> None:
    write(config / "flows/.#desk.yaml", "not: [yaml")
    write(config / "flows/README.txt", "not: [yaml")

    assert list(load_flows(config / "flows", config / "grammars").flows) == ["desk"]


def test_diagnostics_print_like_compiler_messages() -> None:
    diagnostics = [
        Diagnostic(Path("flows/a.yaml"), 3, 8, "error", "start: there is no menu 'x'"),
        Diagnostic(Path("flows/a.yaml"), 9, 5, "warning", "menus.main.routes: no route"),
    ]

    assert str(FlowLoadError(diagnostics)) == (
        "flows/a.yaml:3:8: error: start: there is no menu 'x'\n"
        "flows/a.yaml:9:5: warning: menus.main.routes: no route"
    )

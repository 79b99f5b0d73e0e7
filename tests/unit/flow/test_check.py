"""The cross-checks of flows and grammars, ``speech-ivr check``, prompt files and the graph."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from ivr.flow import Diagnostic, FlowLoadError, load_flow, load_flows
from ivr.flow.check import check_paths, format_report, run_check
from ivr.flow.graph import mermaid
from ivr.flow.sound_check import missing_prompts
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
    prompt: sound:desk/main
    grammar: desk
    routes:
      sales: {context: ivr-dest, extension: sales, key: 1}
      support: {menu: support, key: 2}
  support:
    prompt: [sound:desk/support, sound:desk/options]
    routes:
      refund: {context: ivr-dest, extension: refund, key: 1}
      back: {menu: main, key: 9}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A project directory with a valid desk flow (two menus) and its grammar."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "grammars").mkdir()
    write(tmp_path / "grammars/desk.yaml", GRAMMAR)
    write(tmp_path / "flows/desk.yaml", FLOW)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(config: Path, *, flow: str | None = None, grammar: str | None = None) -> list[str]:
    """The diagnostics of checking ``config`` (with this flow or grammar text), relative to it."""
    if flow is not None:
        write(config / "flows/desk.yaml", flow)
    if grammar is not None:
        write(config / "grammars/desk.yaml", grammar)
    _, diagnostics = check_paths([config])
    return [str(d).removeprefix(f"{config}/") for d in diagnostics]


def test_the_base_configuration_is_clean(config: Path) -> None:
    flow_set, diagnostics = check_paths([config])

    assert diagnostics == []
    assert flow_set is not None
    assert flow_set.get("desk") is not None


# Menus and routes


def test_a_route_to_a_menu_that_does_not_exist(config: Path) -> None:
    flow = FLOW.replace("{menu: support, key: 2}", "{menu: suport, key: 2}")

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:11:23: error: menus.main.routes.support.menu: there is no menu"
        " 'suport' (did you mean 'support'?)",
        "flows/desk.yaml:12:3: warning: menus.support: no route leads to this menu from the"
        " start menu 'main'",
    ]


def test_a_menu_no_route_leads_to_is_a_warning(config: Path) -> None:
    flow = FLOW + "  orphan:\n    prompt: sound:x\n    routes: {a: {menu: main, key: 1}}\n"

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:17:3: warning: menus.orphan: no route leads to this menu from the"
        " start menu 'main'"
    ]


def test_a_menu_reached_only_through_another_sub_menu_is_reachable(config: Path) -> None:
    deeper = "      deeper: {menu: deep, key: 8}\n"
    flow = FLOW.replace("{menu: main, key: 9}\n", "{menu: main, key: 9}\n" + deeper)
    flow += "  deep:\n    prompt: sound:x\n    routes: {up: {menu: support, key: 1}}\n"

    assert problems(config, flow=flow) == []


def test_a_menu_without_grammar_or_keys(config: Path) -> None:
    flow = FLOW.replace(", key: 1}\n      back", "}\n      back").replace("main, key: 9}", "main}")

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:12:3: error: menus.support: the menu has no grammar and none of its"
        " routes has a key: the caller has no way to answer"
    ]


def test_a_route_without_key_in_a_keys_only_menu(config: Path) -> None:
    flow = FLOW.replace("main, key: 9}", "main}")

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:16:7: error: menus.support.routes.back: the menu has no grammar and"
        " this route has no key: nothing can choose it"
    ]


def test_a_keys_only_route_in_a_speech_menu_needs_no_intent(config: Path) -> None:
    operator = "      operator: {context: ivr-dest, extension: op, key: 0}\n"
    flow = FLOW.replace("      support: {menu", operator + "      support: {menu")

    assert problems(config, flow=flow) == []


def test_a_route_without_key_needs_its_intent_in_the_grammar(config: Path) -> None:
    operator = "      operator: {context: ivr-dest, extension: op}\n"
    flow = FLOW.replace("      support: {menu", operator + "      support: {menu")

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:11:7: error: menus.main.routes.operator: grammar 'desk' has no intent"
        " 'operator'"
    ]


# DTMF keys


def test_two_routes_with_the_same_key(config: Path) -> None:
    flow = FLOW.replace("{menu: main, key: 9}", "{menu: main, key: 1}")

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:16:31: warning: menus.support.routes.back.key: key '1' is already the"
        " key of route 'refund', which takes it"
    ]


def test_a_key_longer_than_max_digits_can_never_be_entered(config: Path) -> None:
    flow = FLOW.replace("{menu: main, key: 9}", "{menu: main, key: 99}")

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:16:31: error: menus.support.routes.back.key: key '99' has 2 digits but"
        " dtmf.max_digits is 1: it can never be entered"
    ]


def test_a_key_holding_the_terminator_can_never_be_entered(config: Path) -> None:
    flow = FLOW.replace("{menu: main, key: 9}", "{menu: main, key: '9*'}")
    flow += "    dtmf: {max_digits: 3, terminator: '*'}\n"

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:16:31: error: menus.support.routes.back.key: key '9*' holds the"
        " dtmf.terminator '*': it can never be entered"
    ]


def test_a_key_that_starts_another_without_terminator_is_ambiguous(config: Path) -> None:
    flow = FLOW.replace("{menu: main, key: 9}", "{menu: main, key: 12}")
    flow += "    dtmf: {max_digits: 2, terminator: ''}\n"

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:15:59: warning: menus.support.routes.refund.key: ambiguous: key '1' is"
        " the start of key '12' of route 'back', and without a dtmf.terminator the caller must"
        " wait dtmf.inter_digit after it"
    ]


def test_a_key_that_starts_another_is_fine_with_a_terminator(config: Path) -> None:
    flow = FLOW.replace("{menu: main, key: 9}", "{menu: main, key: 12}")
    flow += "    dtmf: {max_digits: 2}\n"

    assert problems(config, flow=flow) == []


# Channel variables


NOT_A_NAME = "not a channel variable name: use letters, digits and '_', not starting with a digit"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1ST", NOT_A_NAME),
        ("MY-VAR", NOT_A_NAME),
        ("IVR_RESULT", "names starting with IVR_ are reserved for speech-ivr"),
    ],
)
def test_set_variable_names(config: Path, name: str, message: str) -> None:
    flow = FLOW.replace("sales, key: 1}", f"sales, key: 1, set: {{{name}: x}}}}")

    assert problems(config, flow=flow) == [
        f"flows/desk.yaml:10:66: error: menus.main.routes.sales.set.{name}: {message}"
    ]


def test_valid_set_variables(config: Path) -> None:
    flow = FLOW.replace("key: 1}", "key: 1, set: {DEPT: sales, _x9: 1, ivr_mine: y}}", 1)

    assert problems(config, flow=flow) == []


# Confirmation

CONFIRMING = FLOW.replace(
    "      sales: {context: ivr-dest, extension: sales, key: 1}",
    "      sales: {context: ivr-dest, extension: sales, key: 1, confirm: sound:desk/sales}",
).replace("    grammar: desk\n", "    grammar: desk\n    confirm_below: 85\n")


def test_a_confirming_menu_warns_of_spoken_routes_without_confirm_prompts(config: Path) -> None:
    assert problems(config, flow=CONFIRMING) == [
        "flows/desk.yaml:12:7: warning: menus.main.routes.support: menu 'main' confirms answers"
        " below 85 but route 'support' has no confirm prompt: such answers for it are asked again"
    ]


def test_the_default_thresholds_need_no_confirm_prompts_nor_yes_no_words(config: Path) -> None:
    # An untuned menu confirms doubtful answers where it can and asks again where it cannot.
    flow = CONFIRMING.replace("    confirm_below: 85\n", "").replace("confirm: sound:desk/sales", "key: 9")
    flow = flow.replace("language: ko", "language: fr")
    assert "confirm" not in "".join(problems(config, flow=flow))


def test_a_keys_only_route_of_a_confirming_menu_needs_no_confirm_prompt(config: Path) -> None:
    flow = CONFIRMING.replace("key: 2}", "key: 2, confirm: sound:s}")
    keys_only = "      op: {context: d, extension: op, key: 0}\n"
    flow = flow.replace("      support: {menu", keys_only + "      support: {menu")

    assert problems(config, flow=flow) == []


def test_confirming_needs_yes_and_no_words(config: Path) -> None:
    flow = CONFIRMING.replace("language: en", "language: fr").replace(
        "{menu: support, key: 2}", "{menu: support, key: 2, confirm: sound:s}"
    )

    assert problems(config, flow=flow, grammar=GRAMMAR.replace("language: en", "language: fr")) == [
        "flows/desk.yaml:9:20: error: menus.main.confirm_below: the flow's language 'fr' has no"
        " default yes/no words: give the flow confirm_words"
    ]
    flow += "confirm_words: {yes: [oui], no: [non]}\n"
    assert problems(config, flow=flow) == []


def test_confirming_below_the_minimum_score_never_happens(config: Path) -> None:
    flow = CONFIRMING.replace("confirm_below: 85", "confirm_below: 60\n    min_score: 70").replace(
        "{menu: support, key: 2}", "{menu: support, key: 2, confirm: sound:s}"
    )

    assert problems(config, flow=flow) == [
        "flows/desk.yaml:9:20: warning: menus.main.confirm_below: 60 is not above min_score 70:"
        " answers are never confirmed"
    ]


# Grammars


def test_phrases_of_two_intents_the_matcher_would_confuse(config: Path) -> None:
    grammar = GRAMMAR.replace("[support, help]", "[support, Sale]")

    assert problems(config, grammar=grammar) == [
        "grammars/desk.yaml:5:22: warning: intents.support[1]: the phrase 'Sale' is so close to"
        " 'sales' of intent 'sales' (89% alike) that the matcher may take one for the other"
    ]


def test_similar_phrases_of_one_intent_are_fine(config: Path) -> None:
    assert problems(config, grammar=GRAMMAR.replace("[sales, buy]", "[sales, sale, buy]")) == []


def test_the_same_phrase_in_two_intents_is_only_reported_once(config: Path) -> None:
    grammar = GRAMMAR.replace("[support, help]", "[support, SALES]")

    assert problems(config, grammar=grammar) == [
        "grammars/desk.yaml:5:22: error: intents.support[1]: the phrase 'SALES' is the same as"
        " 'sales' of intent 'sales' (phrases are compared without case, punctuation or spaces)"
    ]


def test_a_grammar_too_large_to_compare_is_said_so(config: Path) -> None:
    phrases = ", ".join(f"w{number}" for number in range(2001))
    grammar = GRAMMAR.replace("[sales, buy]", f"[sales, buy, {phrases}]")

    assert problems(config, grammar=grammar) == [
        "grammars/desk.yaml:3:1: warning: intents: 2005 phrases are too many to look for similar"
        " ones (at most 2000 are compared)"
    ]


def test_warnings_do_not_stop_loading(config: Path) -> None:
    write(config / "grammars/desk.yaml", GRAMMAR.replace("[support, help]", "[support, sale]"))

    flows = load_flows(config / "flows", config / "grammars")

    assert [d.severity for d in flows.diagnostics] == ["warning"]


def test_a_single_flow_file_gets_the_flow_checks(tmp_path: Path) -> None:
    path = write(tmp_path / "desk.yaml", FLOW.replace("key: 9}", "key: 99}"))

    with pytest.raises(FlowLoadError) as raised:
        load_flow(path)

    assert [(d.line, d.column, d.severity) for d in raised.value.diagnostics] == [(16, 31, "error")]


# check_paths


def test_check_a_flows_and_a_grammars_directory(config: Path) -> None:
    flow_set, diagnostics = check_paths([config / "flows", config / "grammars"])

    assert diagnostics == []
    assert flow_set is not None and list(flow_set.grammars) == ["desk"]


def test_check_one_flow_file_uses_the_grammars_beside_it(config: Path) -> None:
    flow_set, diagnostics = check_paths([config / "flows/desk.yaml"])

    assert diagnostics == []
    assert flow_set is not None and list(flow_set.grammars) == ["desk"]


def test_check_files_of_both_kinds(config: Path) -> None:
    flow_set, _ = check_paths([config / "grammars/desk.yaml", config / "flows/desk.yaml"])

    assert flow_set is not None
    assert (list(flow_set.flows), list(flow_set.grammars)) == (["desk"], ["desk"])


def test_check_defaults_to_flows_and_grammars_here(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(config)

    flow_set, diagnostics = check_paths([])

    assert diagnostics == []
    assert flow_set is not None and list(flow_set.flows) == ["desk"]


def test_check_a_path_that_does_not_exist(config: Path) -> None:
    flow_set, diagnostics = check_paths([config / "flows", config / "nowhere"])

    assert flow_set is None
    assert [str(d).removeprefix(f"{config}/") for d in diagnostics] == [
        "nowhere:1:1: error: no such file or directory"
    ]


def test_check_returns_no_flows_on_errors(config: Path) -> None:
    write(config / "flows/desk.yaml", FLOW.replace("start: main", "start: nope"))

    flow_set, diagnostics = check_paths([config])

    assert flow_set is None
    assert [d.severity for d in diagnostics] == ["error"]


def test_check_the_shipped_examples() -> None:
    flow_set, diagnostics = check_paths([EXAMPLES_DIR])

    assert flow_set is not None
    assert [d for d in diagnostics if d.file.name.startswith("switchboard-en")] == []


# Prompt files


def test_missing_prompt_files(config: Path) -> None:
    sounds = config / "sounds"
    write(sounds / "desk/main.wav", "")
    write(sounds / "en/desk/support.gsm", "")
    write(sounds / "desk/options.txt", "")
    flow = FLOW.replace(
        "    routes:\n      refund",
        "    no_input: [recording:hello, 'sound:https://example.com/x.wav', digits:12]\n"
        "    no_match: [[sound:desk/main, sound:desk/sorry]]\n"
        "    routes:\n      refund",
    )
    write(config / "flows/desk.yaml", flow)

    _, diagnostics = check_paths([config], sounds_dirs=[sounds])

    assert [str(d).removeprefix(f"{config}/") for d in diagnostics] == [
        f"flows/desk.yaml:13:34: warning: menus.support.prompt[1]: no audio file for"
        f" 'sound:desk/options' in {sounds} (with or without en/)",
        f"flows/desk.yaml:15:34: warning: menus.support.no_match[0][1]: no audio file for"
        f" 'sound:desk/sorry' in {sounds} (with or without en/)",
    ]


def test_prompt_files_in_any_of_several_directories_and_absolute_names(config: Path) -> None:
    write(config / "a/desk/main.sln16", "")
    write(config / "b/desk/support.ulaw", "")
    write(config / "elsewhere/options.wav16", "")
    flow = FLOW.replace("sound:desk/options", f"sound:{config}/elsewhere/options")
    flow_set = load_flows(write(config / "flows/desk.yaml", flow).parent, config / "grammars")

    assert missing_prompts(flow_set, [config / "a", config / "b"]) == []
    assert len(missing_prompts(flow_set, [config / "a"])) == 1


def test_confirm_prompts_are_looked_for(config: Path) -> None:
    write(config / "sounds/desk/main.wav", "")
    flow = CONFIRMING.replace("key: 2}", "key: 2, confirm: [sound:desk/main]}")
    write(config / "flows/desk.yaml", flow)
    flow_set = load_flows(config / "flows", config / "grammars")

    missing = [d.message.split(":")[0] for d in missing_prompts(flow_set, [config / "sounds"])]

    assert missing == [
        "menus.main.routes.sales.confirm",
        "menus.support.prompt[0]",
        "menus.support.prompt[1]",
    ]


def test_a_sounds_directory_that_does_not_exist(config: Path) -> None:
    flow_set, diagnostics = check_paths([config], sounds_dirs=[config / "sounds"])

    assert flow_set is None
    assert f"{config}/sounds:1:1: error: no such directory" in map(str, diagnostics)


# The report


def test_format_report_sorts_and_counts() -> None:
    diagnostics = [
        Diagnostic(Path("flows/b.yaml"), 3, 1, "warning", "w"),
        Diagnostic(Path("flows/a.yaml"), 9, 5, "error", "e2"),
        Diagnostic(Path("flows/a.yaml"), 2, 7, "error", "e1"),
    ]

    assert format_report(diagnostics, files=4) == (
        "flows/a.yaml:2:7: error: e1\n"
        "flows/a.yaml:9:5: error: e2\n"
        "flows/b.yaml:3:1: warning: w\n"
        "2 errors, 1 warning in 4 files"
    )


def test_format_report_of_nothing() -> None:
    assert format_report([], files=1) == "0 errors, 0 warnings in 1 file"
    assert format_report([]) == "0 errors, 0 warnings"


def test_run_check_exit_status(config: Path) -> None:
    out = io.StringIO()
    assert run_check([config], [], out) == 0
    assert out.getvalue() == "0 errors, 0 warnings in 2 files\n"

    write(config / "grammars/desk.yaml", GRAMMAR.replace("[support, help]", "[support, sale]"))
    assert run_check([config], [], io.StringIO()) == 0

    write(config / "flows/desk.yaml", FLOW.replace("start: main", "start: nope"))
    out = io.StringIO()
    assert run_check([config], [], out) == 1
    assert out.getvalue().splitlines()[-1] == "1 error, 1 warning in 2 files"


# The graph


def test_mermaid_graph(tmp_path: Path) -> None:
    flow = load_flow(
        write(
            tmp_path / "f.yaml",
            """\
            name: ko-desk
            language: ko
            start: 메인-메뉴
            fallback: {context: ivr-fallback, extension: s}
            menus:
              메인-메뉴:
                prompt: [sound:intro, 'sound:say "hi"']
                grammar: ko
                confirm_below: 85
                routes:
                  sales: {context: ivr-dest, extension: sales, key: 1, confirm: sound:c}
                  support: {menu: end, key: 2}
                  operator: {context: ivr-dest, extension: op}
              end:
                prompt: sound:sub
                fallback: {context: ivr-dest, extension: support, priority: 2}
                routes:
                  back: {menu: 메인-메뉴, key: 9}
                  human: {context: ivr-dest, extension: op, key: 0}
            """
        )
    )

    assert mermaid(flow) == textwrap.dedent(
        """\
        flowchart TD
            entry(["ko-desk"])
            menu1["메인-메뉴<br/>sound:intro<br/>sound:say #quot;hi#quot;"]
            menu2["end<br/>sound:sub"]
            dest1[["ivr-dest,sales,1"]]
            dest2[["ivr-dest,op,1"]]
            dest3[["ivr-fallback,s,1"]]
            dest4[["ivr-dest,support,2"]]
            entry --> menu1
            menu1 -->|"sales? / 1"| dest1
            menu1 -->|"support / 2"| menu2
            menu1 -->|"operator"| dest2
            menu1 -.->|"no-input / no-match"| dest3
            menu2 -->|"back / 9"| menu1
            menu2 -->|"human / 0"| dest2
            menu2 -.->|"no-input / no-match"| dest4"""
    )


def test_mermaid_graph_of_the_english_example() -> None:
    flow = load_flows(EXAMPLES_DIR / "flows", EXAMPLES_DIR / "grammars").get("switchboard-en")
    assert flow is not None

    graph = mermaid(flow)

    assert graph == mermaid(flow)
    assert '    menu1 -->|"sales? / 1"| dest1' in graph
    assert '    menu1 -->|"support? / 2"| menu2' in graph
    assert '    menu2 -->|"back / 9"| menu1' in graph

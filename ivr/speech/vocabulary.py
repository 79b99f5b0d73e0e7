"""The words a Vosk model can recognize, read from its files without loading it.

Big models ship ``graph/words.txt``. Small "lookahead" models (like the Korean one) do not,
but their grammar FST ``graph/Gr.fst`` carries its word symbol table (OpenFst's binary
format, right after the FST header), which is read here. A model's out-of-vocabulary
token is ``[unk]`` in Vosk grammars when the model maps it (most English models), or the
Kaldi symbol ``<UNK>`` otherwise.
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

SYMBOL_TABLE_MAGIC = 2125658996  # OpenFst SymbolTable::kMagicNumber
SPECIAL = frozenset({"<eps>", "!SIL", "<UNK>", "<SPOKEN_NOISE>", "#0", "<s>", "</s>", "[unk]"})


class VocabularyError(ValueError):
    pass


def parse_symbol_table(data: bytes) -> list[str]:
    """The symbols of the first OpenFst symbol table in ``data`` (an FST file's head)."""
    start = data.find(struct.pack("<i", SYMBOL_TABLE_MAGIC))
    if start < 0:
        raise VocabularyError("no symbol table found")
    offset = start + 4
    try:
        (name_length,) = struct.unpack_from("<i", data, offset)
        offset += 4 + name_length
        _available_key, size = struct.unpack_from("<qq", data, offset)
        offset += 16
        symbols = []
        for _ in range(size):
            (length,) = struct.unpack_from("<i", data, offset)
            offset += 4
            if offset + length + 8 > len(data):
                raise VocabularyError("truncated symbol table")
            symbols.append(data[offset : offset + length].decode("utf-8", "replace"))
            offset += length + 8  # the symbol, then its int64 key
    except struct.error as exc:
        raise VocabularyError("truncated symbol table") from exc
    return symbols


@functools.lru_cache(maxsize=4)
def model_vocabulary(model_dir: Path) -> frozenset[str]:
    """Every word the model knows (without Kaldi's special symbols)."""
    words_txt = model_dir / "graph" / "words.txt"
    if words_txt.is_file():
        words = [line.split()[0] for line in words_txt.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        fst = model_dir / "graph" / "Gr.fst"
        if not fst.is_file():
            raise VocabularyError(f"{model_dir}: neither graph/words.txt nor graph/Gr.fst")
        with fst.open("rb") as file:
            head = file.read(64 * 1024 * 1024)  # the symbol table comes first; big enough for 2M words
        words = parse_symbol_table(head)
    return frozenset(words) - SPECIAL


def unknown_word_token(model_dir: Path) -> str | None:
    """The token a grammar can list so that unknown words are heard as such, if the model has one."""
    words_txt = model_dir / "graph" / "words.txt"
    if words_txt.is_file() and "[unk]" in words_txt.read_text(encoding="utf-8").split():
        return "[unk]"
    return None

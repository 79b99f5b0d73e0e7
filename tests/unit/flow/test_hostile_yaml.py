"""Hostile YAML: every file gets one positioned diagnostic, quickly and in bounded memory.

Flows are read by ``speech-ivr check`` and by the running app on every reload, so a file that
is huge, an alias bomb, nested without end or tagged to build Python objects must not take the
process down, hang it, or fill its memory: it gets one ``FILE:LINE:COL`` error like any typo.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ivr.flow import FlowLoadError, load_flow, load_grammar
from ivr.flow.yaml_source import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    MAX_WRITTEN_NODES,
    read_yaml,
)

MiB = 1024 * 1024


@contextmanager
def bounded(seconds: float, megabytes: float | None = None) -> Iterator[None]:
    """Fail if the block takes more than ``seconds`` of CPU time (not wall time: a loaded
    test machine must not fail it) or allocates more than ``megabytes`` at its peak
    (tracemalloc slows Python down a few times: keep those blocks small)."""
    if megabytes is not None:
        tracemalloc.start()
    started = time.process_time()
    try:
        yield
    finally:
        took = time.process_time() - started
        peak = 0
        if megabytes is not None:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert took < seconds, f"took {took:.2f} s"
    if megabytes is not None:
        assert peak < megabytes * MiB, f"peaked at {peak / MiB:.1f} MiB"


def diagnostics(path: Path, load: Callable[[Path], object] = load_flow) -> list[str]:
    with pytest.raises(FlowLoadError) as raised:
        load(path)
    return [str(d).removeprefix(f"{path.parent}/") for d in raised.value.diagnostics]


def write(tmp_path: Path, text: str, name: str = "f.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    with path.open("wb") as file:  # 64 MiB of a valid-looking flow: never parsed, never read whole
        file.write(b"name: f\n")
        for _ in range(64):
            file.write(b"# " + b"x" * (MiB - 3) + b"\n")

    with bounded(seconds=1, megabytes=2 * MAX_FILE_BYTES / MiB + 1):
        errors = diagnostics(path)

    assert errors == [f"f.yaml:1:1: error: file is larger than the limit of {MAX_FILE_BYTES} bytes"]


def test_a_file_just_under_the_size_limit_is_parsed(tmp_path: Path) -> None:
    comment = "# " + "x" * 1000 + "\n"
    text = "name: [" + "\n" + comment * (MAX_FILE_BYTES // len(comment) - 1) + "]\n"
    assert len(text.encode()) <= MAX_FILE_BYTES

    with bounded(seconds=5):
        errors = diagnostics(write(tmp_path, text))

    # Read and parsed: what is wrong is the flow itself.
    assert "f.yaml:1:1: error: missing required key 'menus'" in errors
    assert not any("limit" in error or "nodes" in error for error in errors)


def billion_laughs(levels: int = 9) -> str:
    lines = ['lol: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("load", [load_flow, load_grammar])
def test_a_billion_laughs_alias_bomb(tmp_path: Path, load: Callable[[Path], object]) -> None:
    path = write(tmp_path, billion_laughs())  # 9 ** 9 = 387 million strings once expanded

    with bounded(seconds=5, megabytes=64):
        errors = diagnostics(path, load)

    expands = "(each alias repeats the whole node its anchor names)"
    assert errors == [f"f.yaml:1:18: error: the document expands to more than {MAX_NODES} nodes {expands}"]


def test_a_flat_file_of_many_small_nodes_stops_at_the_written_node_limit(tmp_path: Path) -> None:
    # 1 MiB of one-character list items would be 500,000 nodes: 20 s and 300 MB in PyYAML.
    text = "intents: [" + ",".join(["a"] * (MAX_FILE_BYTES // 2 - 10)) + "]\n"

    with bounded(seconds=5):
        errors = diagnostics(write(tmp_path, text))

    column = 11 + 2 * (MAX_WRITTEN_NODES - 3)  # the item past the limit (after map, key, list)
    written = f"the file has more than {MAX_WRITTEN_NODES} nodes (keys, values and aliases)"
    assert errors == [f"f.yaml:1:{column}: error: {written}"]


def test_many_aliases_of_a_small_anchor_count_as_written_nodes(tmp_path: Path) -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_FILE_BYTES // 5)) + "]\n"

    with bounded(seconds=5):
        [error] = diagnostics(write(tmp_path, text))

    assert error.startswith("f.yaml:2:")
    assert error.endswith(f"the file has more than {MAX_WRITTEN_NODES} nodes (keys, values and aliases)")


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", "1:67"),  # flow sequences
        ("a: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n", "1:253"),  # flow mappings
        ("".join(" " * depth + "a:\n" for depth in range(200)), "64:64"),  # block mappings: a key is a level too
        ("".join(" " * depth + "-\n" for depth in range(200)), "65:65"),  # block sequences
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "block-sequences"],
)
def test_deep_nesting(tmp_path: Path, text: str, position: str) -> None:
    with bounded(seconds=5, megabytes=16):
        errors = diagnostics(write(tmp_path, text))

    assert errors == [f"f.yaml:{position}: error: the document is nested more than {MAX_DEPTH} levels deep"]


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    # The root mapping is level 1, `a` and its list level 2: MAX_DEPTH levels in all.
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    errors = diagnostics(write(tmp_path, text))
    assert errors and not any("nested" in error for error in errors)


def test_a_huge_single_string(tmp_path: Path) -> None:
    size = MAX_FILE_BYTES - 30
    path = write(tmp_path, "name: f\nlanguage: " + "x" * size + "\n")

    with bounded(seconds=5):
        source = read_yaml(path)

    assert isinstance(source.data, dict) and len(source.data["language"]) == size
    assert source.position(("language",)) == (2, 11)
    errors = diagnostics(path)  # the flow is incomplete: its diagnostics do not quote the string
    assert errors and all(len(error) < 500 for error in errors)


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object/apply:os.system ['touch /tmp/owned']", "python/object/apply:os.system"),
        ("!!python/object:builtins.dict {a: 1}", "python/object:builtins.dict"),
        ("!!python/object/new:builtins.bytearray [10000000000]", "python/object/new:builtins.bytearray"),
        ("!!python/name:os.system ''", "python/name:os.system"),
        ("!!python/module:os ''", "python/module:os"),
        ("!!binary aGVsbG8=", "binary"),
        ("!!set {a, b}", "set"),
        ("!!omap [a: 1]", "omap"),
    ],
)
def test_tags_that_build_objects_are_refused(tmp_path: Path, value: str, tag: str) -> None:
    marker = tmp_path / "owned"
    path = write(tmp_path, f"name: f\nlanguage: {value.replace('/tmp/owned', str(marker))}\n")

    errors = diagnostics(path)

    assert errors == [f"f.yaml:2:11: error: unsupported tag 'tag:yaml.org,2002:{tag}'"]
    assert not marker.exists()


def test_a_local_tag_is_refused(tmp_path: Path) -> None:
    errors = diagnostics(write(tmp_path, "name: !custom f\n"))
    assert errors == ["f.yaml:1:7: error: unsupported tag '!custom'"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5000, "cannot read this int: Exceeds the limit (4300 digits)"),
        ("2024-13-45", "cannot read this timestamp: month must be in 1..12"),
        ("!!timestamp 1", "cannot read this timestamp: malformed"),
        ("!!float many", "cannot read this float: could not convert string to float"),
    ],
)
def test_values_python_cannot_build_are_diagnosed(tmp_path: Path, value: str, message: str) -> None:
    [error] = diagnostics(write(tmp_path, f"name: f\nstart: {value}\n"))
    assert error.startswith(f"f.yaml:2:8: error: {message}")
    assert error.endswith("(quote it to keep it as text)")

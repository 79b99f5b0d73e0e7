"""Loading mangled flows and grammars: problems come as positioned diagnostics, never as
another exception, and loading stays fast whatever the file holds.

The mangling starts from the shipped English example, which uses every feature of the
model, and breaks it the ways hand editing and hostile files do.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.flow import FlowLoadError, load_flows
from ivr.flow.graph import mermaid
from ivr.flow.yaml_source import MAX_FILE_BYTES
from ivr.project import EXAMPLES_DIR

REPO = Path(__file__).resolve().parents[3]
FLOW = (EXAMPLES_DIR / "flows/switchboard-en.yaml").read_text(encoding="utf-8")
GRAMMARS = {
    name: (EXAMPLES_DIR / f"grammars/{name}.yaml").read_text(encoding="utf-8")
    for name in ("switchboard-en", "switchboard-en-support")
}

FUZZ = settings(
    max_examples=50,
    # No deadline: these machines are shared and noisy. Exponential work (an alias bomb
    # expanded) is stopped by the loader's node limit, which the bomb tests check directly.
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SCALARS = [
    "1", "-1", "0123", "1.5", "1e400", ".nan", "-.inf", "true", "no", "null", "~", "''", '""',
    "[]", "{}", "[1, [2, [3]]]", "{a: {b: c}}", "0x1F", "2024-01-01", "!!binary aGVsbG8=",
    "!!python/object/apply:os.system [ls]", "!custom x", "&anchor value", "*undefined",
    "'unterminated", "|\n  block\n  text", "IVR_RESULT", "sound:", "-", "? complex",
    "{menu: nowhere}", "{context: c, extension: e, menu: m}", "[sound:a, 7]", "\U0001f600",
    "영업부", "'\u202e\u0000'", "5s", "800ms", "-3s", "99999999999999999999",
]  # fmt: skip
"""Values of every YAML type, and a few traps, to put where another value was."""

Lines = list[str]
Mutation = Callable[[st.DataObject, Lines], Lines]


def _line_index(data: st.DataObject, lines: Lines) -> int:
    return data.draw(st.integers(0, len(lines) - 1))


def delete_line(data: st.DataObject, lines: Lines) -> Lines:
    index = _line_index(data, lines)
    return lines[:index] + lines[index + 1 :]


def duplicate_line(data: st.DataObject, lines: Lines) -> Lines:
    index = _line_index(data, lines)
    return lines[: index + 1] + lines[index:]


def swap_lines(data: st.DataObject, lines: Lines) -> Lines:
    first, second = _line_index(data, lines), _line_index(data, lines)
    swapped = list(lines)
    swapped[first], swapped[second] = lines[second], lines[first]
    return swapped


def insert_text(data: st.DataObject, lines: Lines) -> Lines:
    """Tabs, stray YAML syntax or any unicode text, somewhere in a line."""
    syntax = st.sampled_from(["\t", ": ", "- ", "#", "&a ", "*a", "{", "]", "\r", "\u2028"])
    text = data.draw(syntax | st.text(max_size=12))
    index = _line_index(data, lines)
    line = lines[index]
    at = data.draw(st.integers(0, len(line)))
    return [*lines[:index], line[:at] + text + line[at:], *lines[index + 1 :]]


def replace_value(data: st.DataObject, lines: Lines) -> Lines:
    """A value of another type (or a trap) in place of a ``key: value`` line's value."""
    return _replace_a_value(data, lines, data.draw(st.sampled_from(SCALARS)))


def nest_deeply(data: st.DataObject, lines: Lines) -> Lines:
    depth = data.draw(st.sampled_from([10, 200, 1000, 5000]))
    opening, closing = data.draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
    return _replace_a_value(data, lines, opening * depth + closing * depth)


def huge_value(data: st.DataObject, lines: Lines) -> Lines:
    size = data.draw(st.sampled_from([1_000, 100_000]))
    return _replace_a_value(data, lines, data.draw(st.sampled_from(["x", "영", "a b "])) * size)


def alias_bomb(data: st.DataObject, lines: Lines) -> Lines:
    """Anchors whose aliases multiply: ``width ** depth`` nodes from a few lines."""
    width, depth = data.draw(st.integers(2, 12)), data.draw(st.integers(1, 9))
    bomb = ["bomb0: &b0 [lol]\n"]
    bomb += [f"bomb{n}: &b{n} [{', '.join([f'*b{n - 1}'] * width)}]\n" for n in range(1, depth)]
    at = data.draw(st.integers(0, len(lines)))
    return lines[:at] + bomb + lines[at:]


def pad_file(data: st.DataObject, lines: Lines) -> Lines:
    """A large file, or one over the size limit (refused unparsed)."""
    size = data.draw(st.sampled_from([200_000, MAX_FILE_BYTES + 100]))
    return lines + ["#" * 99 + "\n"] * (size // 100)


MUTATIONS: list[Mutation] = [
    delete_line, duplicate_line, swap_lines, insert_text, replace_value,
    nest_deeply, huge_value, alias_bomb, pad_file,
]  # fmt: skip


def _replace_a_value(data: st.DataObject, lines: Lines, value: str) -> Lines:
    valued = [index for index, line in enumerate(lines) if ": " in line]
    if not valued:
        return lines + [f"key: {value}\n"]
    index = data.draw(st.sampled_from(valued))
    key = lines[index].partition(": ")[0]
    return [*lines[:index], f"{key}: {value}\n", *lines[index + 1 :]]


def mangle(data: st.DataObject, text: str) -> bytes:
    """``text`` after one to four mutations, with random bytes spliced in now and then."""
    lines = text.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        mutation = data.draw(st.sampled_from(MUTATIONS))
        lines = mutation(data, lines) if lines else [data.draw(st.text(max_size=50))]
    raw = "".join(lines).encode("utf-8")
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    return raw


def check_loading(flow: bytes, grammars: dict[str, bytes]) -> None:
    """Load a project holding these files and check what loading promises."""
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        (project / "flows").mkdir()
        (project / "grammars").mkdir()
        files = {project / "flows/switchboard-en.yaml": flow}
        files |= {project / f"grammars/{name}.yaml": text for name, text in grammars.items()}
        for path, content in files.items():
            path.write_bytes(content)
        try:
            flow_set = load_flows(project / "flows", project / "grammars")
        except FlowLoadError as error:
            diagnostics = error.diagnostics
            assert any(diagnostic.severity == "error" for diagnostic in diagnostics)
        else:
            diagnostics = list(flow_set.diagnostics)
            assert all(diagnostic.severity == "warning" for diagnostic in diagnostics)
            for loaded in flow_set.flows.values():
                assert mermaid(loaded).startswith("flowchart TD\n")
        for diagnostic in diagnostics:
            assert diagnostic.file in files
            # YAML also breaks lines at \r, U+0085, U+2028 and U+2029, as str.splitlines does.
            lines = files[diagnostic.file].decode("utf-8", "replace").splitlines()
            assert 1 <= diagnostic.line <= len(lines) + 1
            assert diagnostic.column >= 1
            assert diagnostic.message.strip()


@FUZZ
@given(st.data())
def test_a_mangled_flow(data: st.DataObject) -> None:
    check_loading(mangle(data, FLOW), {name: text.encode() for name, text in GRAMMARS.items()})


@FUZZ
@given(st.data())
def test_a_mangled_grammar(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(GRAMMARS)))
    grammars = {other: text.encode() for other, text in GRAMMARS.items()}
    grammars[name] = mangle(data, GRAMMARS[name])
    check_loading(FLOW.encode(), grammars)


@settings(max_examples=40, deadline=None, database=None)
@given(st.binary(max_size=2_000) | st.text(max_size=2_000).map(str.encode))
def test_arbitrary_content(content: bytes) -> None:
    check_loading(content, {name: content for name in GRAMMARS})


def test_the_unmangled_files_load_cleanly() -> None:
    check_loading(FLOW.encode(), {name: text.encode() for name, text in GRAMMARS.items()})

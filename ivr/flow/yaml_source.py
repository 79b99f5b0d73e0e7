"""Read a YAML file safely and remember where each of its nodes came from.

Admins write these files by hand, so every problem becomes a :class:`Diagnostic` at a line
and column, never a traceback. Reading is bounded in time and memory: a file over
:data:`MAX_FILE_BYTES` is refused before parsing; while parsing, a file that writes more
than :data:`MAX_WRITTEN_NODES` nodes (PyYAML is pure Python here: about 30 us and 500 bytes
per node) or nests deeper than :data:`MAX_DEPTH` is refused at the node that crosses the
line; and so is a document whose anchors and aliases expand to more than :data:`MAX_NODES`
nodes (the "billion laughs" attack: each alias repeats the whole node it refers to, so a
few lines can stand for billions of nodes). The shipped flows have about 200 nodes, 7 deep.

Plain scalars follow YAML 1.2 where YAML 1.1 surprises people: only ``true`` and ``false``
are booleans (``yes``, ``no``, ``on`` and ``off`` stay text, so they can name intents or a
language) and only plain decimal numbers are integers (``0123`` stays text instead of
becoming the octal 83, so it can be a dialplan extension).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

import yaml

from ivr.flow.diagnostics import Diagnostic, FlowLoadError

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000
"""Nodes a document may expand to, aliases repeating what they name."""
MAX_WRITTEN_NODES = 50_000
"""Nodes (keys, values and aliases) a file may write: a flat 1 MiB file could otherwise
hold 500,000, taking 20 s and 300 MB to parse before ``MAX_NODES`` is even checked."""
MAX_DEPTH = 64
"""Nesting levels; past this PyYAML's recursion would fail, and its scanner slows down with
the square of the depth."""

NodePath = tuple[Hashable, ...]
"""Keys and list indexes from the document root, e.g. ``("menus", "main", "routes")``."""
Position = tuple[int, int]
"""1-based (line, column)."""

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
)
"""Scalars a flow can hold (``!!binary``, ``!!python/...`` and the like are refused)."""


class SourceLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that reads booleans and integers the YAML 1.2 way, and stops composing
    a file that writes too many nodes or nests too deeply (see the module docstring)."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _INT_TAG)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._composed = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        mark = self.peek_event().start_mark
        self._composed += 1
        if self._composed > MAX_WRITTEN_NODES:
            raise _Problem(
                f"the file has more than {MAX_WRITTEN_NODES} nodes (keys, values and aliases)",
                mark,
            )
        if self._depth >= MAX_DEPTH:
            raise _Problem(f"the document is nested more than {MAX_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


SourceLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
SourceLoader.add_implicit_resolver(
    _INT_TAG, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)


@dataclass(frozen=True)
class YamlSource:
    """A YAML document as plain data, with the position of each of its nodes."""

    data: object
    positions: Mapping[NodePath, Position]
    """A mapping entry is placed at its value when that is a scalar, else at its key."""
    key_positions: Mapping[NodePath, Position]
    """Where the key of each mapping entry is written."""

    def position(self, path: Sequence[Hashable], *, key: bool = False) -> Position:
        """The position of the node at ``path`` (of its key, if ``key``), or of its nearest
        ancestor that exists: a missing key is reported at the mapping that should hold it.
        """
        wanted = tuple(path)
        if key and wanted in self.key_positions:
            return self.key_positions[wanted]
        for end in range(len(wanted), -1, -1):
            if (found := self.positions.get(wanted[:end])) is not None:
                return found
        return (1, 1)


def read_yaml(path: Path) -> YamlSource:
    """Read and parse one YAML document; raise :class:`FlowLoadError` if that fails."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise _error(path, (1, 1), f"cannot read the file: {error.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _error(path, (1, 1), f"file is larger than the limit of {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise _error(path, (line, 1), "file is not UTF-8 text") from None
    return parse_yaml(text, path)


def parse_yaml(text: str, file: Path) -> YamlSource:
    """Parse one YAML document; ``file`` only names it in diagnostics."""
    try:
        return _parse(text)
    except _Problem as problem:
        raise _error(file, _position(problem.mark), str(problem)) from None
    except yaml.MarkedYAMLError as error:
        raise _error(file, _position(error.problem_mark), _describe(error)) from None
    except yaml.reader.ReaderError as error:
        message = f"invalid YAML: character U+{error.character:04X} is not allowed"
        raise _error(file, _position_in(text, error.position), message) from None


def _parse(text: str) -> YamlSource:
    loader = SourceLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except RecursionError:
            raise _Problem("the document is nested too deeply", loader.get_mark()) from None
        if root is None:
            return YamlSource(None, MappingProxyType({}), MappingProxyType({}))
        builder = _Builder(loader)
        data = builder.build(root, (), _position(root.start_mark))
        return YamlSource(
            data, MappingProxyType(builder.positions), MappingProxyType(builder.key_positions)
        )
    finally:
        loader.dispose()


class _Problem(Exception):
    """A document PyYAML accepts but we refuse, at the node that shows why."""

    def __init__(self, message: str, mark: yaml.Mark) -> None:
        super().__init__(message)
        self.mark = mark


class _Builder:
    """Turns composed nodes into plain data, recording positions and bounding the work.

    Aliases are expanded into copies, one node at a time, so counting the nodes built
    bounds the memory and time an alias bomb can take.
    """

    def __init__(self, loader: SourceLoader) -> None:
        self.positions: dict[NodePath, Position] = {}
        self.key_positions: dict[NodePath, Position] = {}
        self._loader = loader
        self._built = 0
        self._open: set[int] = set()  # collections being built: an alias to one is a cycle

    def build(self, node: yaml.Node, path: NodePath, position: Position) -> object:
        self._built += 1
        if self._built > MAX_NODES:
            raise _Problem(
                f"the document expands to more than {MAX_NODES} nodes"
                " (each alias repeats the whole node its anchor names)",
                node.start_mark,
            )
        self.positions[path] = position
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self._open:
            raise _Problem("an alias refers to a node that contains it", node.start_mark)
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            raise _Problem(f"unsupported tag {node.tag!r}", node.start_mark)
        self._open.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            data: object = [
                self.build(item, (*path, index), _position(item.start_mark))
                for index, item in enumerate(node.value)
            ]
        else:
            data = self._mapping(node, path)
        self._open.remove(id(node))
        return data

    def _scalar(self, node: yaml.ScalarNode) -> object:
        if node.tag not in _SCALAR_TAGS:
            raise _Problem(f"unsupported tag {node.tag!r}", node.start_mark)
        try:
            return self._loader.construct_object(node)
        except (ValueError, TypeError, AttributeError) as error:
            # PyYAML's constructors fail like this on an int of over 4300 digits, a date like
            # 2024-13-45 or an explicit `!!timestamp 1`.
            kind = node.tag.rpartition(":")[2]
            why = str(error).partition(";")[0] if isinstance(error, ValueError) else "malformed"
            raise _Problem(
                f"cannot read this {kind}: {why} (quote it to keep it as text)", node.start_mark
            ) from None

    def _mapping(self, node: yaml.MappingNode, path: NodePath) -> dict[Hashable, object]:
        mapping: dict[Hashable, object] = {}
        key_marks: dict[Hashable, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise _Problem(
                    "merge keys ('<<') are not supported; use an alias (*name) for a whole value",
                    key_node.start_mark,
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Problem("a key must be a single value", key_node.start_mark)
            key = self._scalar(key_node)
            if key in key_marks:
                raise _Problem(
                    f"duplicate key {key!r} (first defined on line {key_marks[key].line + 1})",
                    key_node.start_mark,
                )
            key_marks[key] = key_node.start_mark
            self.key_positions[(*path, key)] = _position(key_node.start_mark)
            placed_at = value_node if isinstance(value_node, yaml.ScalarNode) else key_node
            mapping[key] = self.build(value_node, (*path, key), _position(placed_at.start_mark))
        return mapping


def _describe(error: yaml.MarkedYAMLError) -> str:
    message = str(error.problem)
    if "'\\t'" in message:
        message += " (indent with spaces, not tabs)"
    if error.context and error.context_mark:
        line, column = _position(error.context_mark)
        message = f"{error.context} (line {line}, column {column}): {message}"
    return f"invalid YAML: {message}"


def _position(mark: yaml.Mark) -> Position:
    return (mark.line + 1, mark.column + 1)


def _position_in(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return (text.count("\n", 0, offset) + 1, offset - line_start + 1)


def _error(file: Path, position: Position, message: str) -> FlowLoadError:
    line, column = position
    return FlowLoadError([Diagnostic(file, line, column, "error", message)])

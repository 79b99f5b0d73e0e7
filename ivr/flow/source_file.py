"""A YAML file as it was read, to place diagnostics about what it defines at their node."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ivr.flow.diagnostics import Diagnostic, Severity
from ivr.flow.yaml_source import NodePath, YamlSource

NO_POSITIONS = YamlSource(None, MappingProxyType({}), MappingProxyType({}))
"""The source of a model that was not read from YAML: everything is at line 1, column 1."""


@dataclass(frozen=True)
class SourceFile:
    """A file's path and the positions of its YAML nodes."""

    path: Path
    source: YamlSource

    def diagnostic(
        self,
        node: Sequence[Hashable],
        message: str,
        severity: Severity = "error",
        *,
        at_key: bool = False,
    ) -> Diagnostic:
        """A diagnostic at ``node`` (at its key with ``at_key``), or at its nearest ancestor,
        whose message starts with the node's path (``menus.main.routes.sales: ...``)."""
        line, column = self.source.position(node, key=at_key)
        if node:
            message = f"{dotted(node)}: {message}"
        return Diagnostic(self.path, line, column, severity, message)

    def nearest(self, node: Sequence[Hashable]) -> NodePath:
        """``node`` if the file has it, else its nearest ancestor that it has: a prompt
        written as one string has no item ``0``."""
        wanted = tuple(node)
        while wanted and wanted not in self.source.positions:
            wanted = wanted[:-1]
        return wanted


def dotted(node: Sequence[Hashable]) -> str:
    """``("menus", "main", "prompt", 0)`` as ``menus.main.prompt[0]``."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in node)
    return text.removeprefix(".")

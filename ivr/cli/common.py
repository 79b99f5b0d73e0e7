"""What the subcommands share: the common options, settings, the project's flows, errors."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.exits import Exit

if TYPE_CHECKING:
    from ivr.flow import FlowSet
    from ivr.flow.model import Flow
    from ivr.settings import Settings


class CliError(Exception):
    """A mistake or a failure the command reports as one line (or a block of diagnostics)."""

    def __init__(self, message: str, code: Exit = Exit.USAGE) -> None:
        super().__init__(message)
        self.code = code


def common_options() -> argparse.ArgumentParser:
    """The options every subcommand takes (a parent parser). Their defaults are left out of
    the namespace (SUPPRESS) so that a subcommand never resets what the top level set."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE", help="TOML settings file (default: ./config.toml, else /etc/speech-ivr/config.toml)")
    group.add_argument("--flows", type=Path, dest="flows_dir", default=argparse.SUPPRESS, metavar="DIR", help="flows directory (default: ./flows)")
    group.add_argument("--grammars", type=Path, dest="grammars_dir", default=argparse.SUPPRESS, metavar="DIR", help="grammars directory (default: ./grammars)")
    group.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    return common


def dtmf_keys(text: str) -> str:
    """An argparse type: keys a caller can press (0-9, *, #, A-D)."""
    from ivr.flow.cases import DTMF

    if not re.fullmatch(DTMF, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not DTMF: use the keys 0-9, *, # and A-D")
    return text


def settings_of(args: argparse.Namespace, **flags: Any) -> Settings:
    """The settings, from the command line's options (and ``flags``), the environment and the
    TOML file; a bad setting is a :class:`CliError`."""
    from ivr.settings import SettingsError, load_settings

    given = {
        key: value
        for key in ("flows_dir", "grammars_dir")
        if (value := getattr(args, key, None)) is not None
    } | {key: value for key, value in flags.items() if value is not None}
    try:
        return load_settings(getattr(args, "config", None), **given)
    except SettingsError as exc:
        raise CliError(f"bad settings: {exc}") from None


def project_flows(settings: Settings) -> FlowSet:
    """The flows and grammars of the settings' directories, checked; exits on errors."""
    from ivr.flow import FlowLoadError, load_flows

    for setting, directory in (("--flows", settings.flows_dir), ("--grammars", settings.grammars_dir)):
        if not directory.is_dir():
            raise CliError(
                f"no {setting.removeprefix('--')} directory {directory.absolute()}: run this in a project "
                f"directory (make one with `speech-ivr init DIR`) or give {setting} DIR"
            )
    try:
        return load_flows(settings.flows_dir, settings.grammars_dir)
    except FlowLoadError as exc:
        raise CliError(str(exc)) from None


def flow_named(flows: FlowSet, name: str, settings: Settings) -> Flow:
    flow = flows.get(name)
    if flow is None:
        known = ", ".join(flows.flows) or "none"
        raise CliError(f"no flow {name!r} in {settings.flows_dir} (flows: {known})")
    return flow

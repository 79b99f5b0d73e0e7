"""The exit statuses of every ``speech-ivr`` command, so that scripts can tell them apart."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    PROBLEMS = 1
    """The command ran and found problems: check errors (or warnings with ``--strict``),
    failed test cases, demo calls that missed, a model that fails its checksum or to load."""
    USAGE = 2
    """Bad input: an argument, a file or a setting (argparse's own usage errors are 2 too)."""
    UNAVAILABLE = 3
    """Something the command needs could not be reached or refused it: Asterisk's ARI, the
    model server, the sandbox."""
    INTERNAL = 70
    """A fault of speech-ivr itself (``EX_SOFTWARE``): please report it, with ``-v``'s output."""

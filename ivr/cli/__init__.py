"""The ``speech-ivr`` command: one parser, a module per family of subcommands.

Every subcommand takes the same ``--config``, ``--flows``, ``--grammars`` and ``-v``; every
mistake an admin can make ends in one line naming the file, setting or argument, and an exit
status of :class:`ivr.exits.Exit`.
"""

from ivr.cli.main import main

__all__ = ["main"]

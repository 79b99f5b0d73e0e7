"""An admin's project directory, and the example one shipped inside the package.

A project is a directory holding ``flows/`` and ``grammars/`` (and, beside each flow, its
regression cases ``FLOW.cases.yaml`` and prompt texts ``FLOW.prompts.yaml``), a
``config.toml`` and the dialplan that hands calls to the app. The shipped examples are one:
``speech-ivr init DIR`` copies them for an admin to edit, and the demo runs on them, so an
installed wheel has everything a clone has.
"""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
"""The shipped example project (package data)."""

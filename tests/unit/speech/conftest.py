"""Fixtures of the model tests: a local model server, and a port that refuses connections."""

from tests.unit.speech.model_files import dead_port, model_server  # noqa: F401  (fixtures)

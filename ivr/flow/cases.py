"""An admin's regression cases for a flow: what the caller does, and where the call must end.

They live beside the flow, ``flows/FLOW.cases.yaml`` (the loader does not read them as a
flow), and ``speech-ivr test-flow FLOW`` runs them; ``speech-ivr check`` checks them. A file
is either a list of cases or a mapping with ``cases:`` (and an optional ``flow:``)::

    - name: sales by voice
      inputs: [{say: 영업부}]
      expect: {context: ivr-dest, extension: sales, result: matched}
    - name: silence ends at the fallback
      inputs: [{silence: true}]
      expect: {extension: s, result: no-input}
    - name: a recorded caller
      inputs: [{wav: callers/sales.wav}]        # relative to this file
      expect: {extension: sales}
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from ivr.flow.loader import validate_in_file
from ivr.flow.source_file import SourceFile
from ivr.flow.yaml_source import read_yaml

DTMF = r"^[0-9*#A-D]+$"
"""The keys a caller can press (RFC 4733 events 0-9, *, #, A-D)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Input(_Frozen):
    """One turn of the caller: exactly one of these."""

    say: str | None = None
    wav: Path | None = None
    dtmf: str | None = Field(default=None, pattern=DTMF)
    silence: bool = False

    @field_validator("dtmf", mode="before")
    @classmethod
    def _keys_as_text(cls, value: object) -> object:
        # YAML reads `dtmf: 3` as an int; keys are text.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _exactly_one(self) -> Input:
        given = [self.say is not None, self.wav is not None, self.dtmf is not None, self.silence]
        if sum(given) != 1:
            raise ValueError("give exactly one of say, wav, dtmf or silence: true")
        return self


class Expect(_Frozen):
    """What the call must end with; fields left out are not checked."""

    context: str | None = None
    extension: str | None = None
    priority: int | None = None
    result: str | None = None
    intent: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)


class Case(_Frozen):
    name: str
    inputs: list[Input] = Field(default_factory=list)
    expect: Expect


class Cases(_Frozen):
    flow: str | None = None
    cases: list[Case] = Field(min_length=1)


class _CaseList(RootModel[list[Case]]):
    pass


def load_cases(path: Path) -> Cases:
    """The cases of a file, either form; raises ``FlowLoadError`` with positioned errors."""
    file = SourceFile(path, read_yaml(path))
    data = file.source.data
    if isinstance(data, list):
        return Cases(cases=validate_in_file(_CaseList, file, data).root)
    return validate_in_file(Cases, file, data)

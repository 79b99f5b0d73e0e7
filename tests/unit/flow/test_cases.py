"""Test cases beside a flow: both forms of the file, positioned errors, and the loader's
and check's view of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.flow import FlowLoadError, load_flows
from ivr.flow.cases import load_cases
from ivr.flow.check import check_paths
from ivr.project import EXAMPLES_DIR

DOCS = Path(__file__).resolve().parents[3] / "docs" / "flows.md"


def test_a_list_of_cases_and_a_mapping_with_cases_both_load(tmp_path: Path) -> None:
    listed = tmp_path / "a.cases.yaml"
    listed.write_text("- name: keys\n  inputs: [{dtmf: 3}]\n  expect: {extension: billing}\n")
    mapped = tmp_path / "b.cases.yaml"
    mapped.write_text("flow: x\ncases:\n  - name: keys\n    inputs: [{dtmf: '3'}]\n    expect: {extension: billing}\n")
    assert load_cases(listed).cases == load_cases(mapped).cases
    assert load_cases(listed).cases[0].inputs[0].dtmf == "3"


def test_an_error_in_a_list_of_cases_is_placed_at_its_line(tmp_path: Path) -> None:
    cases = tmp_path / "a.cases.yaml"
    cases.write_text("- name: ok\n  expect: {}\n- name: bad\n  inputs: [{dtmf: '1x'}]\n  expect: {}\n")
    with pytest.raises(FlowLoadError) as raised:
        load_cases(cases)
    assert str(raised.value).startswith(f"{cases}:4:")


def test_the_cases_format_in_the_docs_is_the_one_test_flow_reads(tmp_path: Path) -> None:
    text = DOCS.read_text()
    block = text.split("### `speech-ivr test-flow", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    cases = tmp_path / "x.cases.yaml"
    cases.write_text(block)
    assert len(load_cases(cases).cases) >= 3


def test_cases_beside_the_flow_are_not_read_as_a_flow(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(EXAMPLES_DIR, tmp_path / "project")
    flows = load_flows(tmp_path / "project" / "flows", tmp_path / "project" / "grammars")
    assert sorted(flows.flows) == ["switchboard-en", "switchboard-ko"]


def test_check_reports_a_broken_cases_file(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "project"
    shutil.copytree(EXAMPLES_DIR, project)
    (project / "flows" / "switchboard-ko.cases.yaml").write_text("- name: x\n  inputs: [{say: a, dtmf: '1'}]\n  expect: {}\n")
    _, diagnostics = check_paths([project])
    assert any(d.severity == "error" and d.file.name == "switchboard-ko.cases.yaml" for d in diagnostics)

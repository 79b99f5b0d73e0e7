"""Call flows and grammars: the model, and loading it from YAML with positioned errors."""

from ivr.flow.diagnostics import Diagnostic, FlowLoadError
from ivr.flow.loader import FlowSet, load_flow, load_flows, load_grammar
from ivr.flow.model import Destination, Flow, Menu, Timeouts

__all__ = [
    "Destination",
    "Diagnostic",
    "Flow",
    "FlowLoadError",
    "FlowSet",
    "Menu",
    "Timeouts",
    "load_flow",
    "load_flows",
    "load_grammar",
]

"""The flows the app can give a call, ready to run: swapped as a whole on reload.

A call keeps the flow (and compiled grammars) it started with, so replacing the catalog
never changes a call in progress.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ivr.flow import Flow, FlowSet
from ivr.grammar.matcher import IntentMatcher
from ivr.speech.models import ModelNotFound, ModelStore

log = logging.getLogger(__name__)


class CatalogError(RuntimeError):
    pass


@dataclass(frozen=True)
class Catalog:
    flows: Mapping[str, Flow]
    matchers: Mapping[str, IntentMatcher]
    """Grammar name -> its matcher (and the recognizer's word list)."""
    default: Flow | None
    """The flow of ``Stasis(APP)`` without a flow argument."""

    @classmethod
    async def load(cls, flow_set: FlowSet, models: ModelStore, default_flow: str | None) -> Catalog:
        """Load the models the flows need; a flow whose model is missing is left out with a
        warning. Fails when no flow is left, or not the configured default one."""
        usable = dict(flow_set.flows)
        for language in sorted({flow.language for flow in usable.values()}):
            try:
                await models.preload([language])
            except ModelNotFound as exc:
                for name in [n for n, f in usable.items() if f.language == language]:
                    log.warning("flow %s disabled (%s): %s", name, usable[name].source, exc)
                    del usable[name]
        if not usable:
            raise CatalogError("no flow can run: " + ("no model for any of them" if flow_set.flows else "no flows"))
        if default_flow is not None and default_flow not in usable:
            raise CatalogError(f"the default flow {default_flow!r} is not among the flows that can run: {', '.join(usable)}")
        default = usable[default_flow] if default_flow else next(iter(usable.values())) if len(usable) == 1 else None
        if default is None:
            log.warning("no default flow: Stasis() without a flow name will be turned away (set default_flow)")
        matchers = {
            name: IntentMatcher.from_grammar(grammar)
            for name, grammar in flow_set.grammars.items()
            if any(menu.grammar == name for flow in usable.values() for menu in flow.menus.values())
        }
        return cls(usable, matchers, default)

    def flow_for(self, requested: str | None) -> Flow | None:
        """The flow a call asked for (its Stasis argument), or the default one."""
        return self.flows.get(requested) if requested else self.default

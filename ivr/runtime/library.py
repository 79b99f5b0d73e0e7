"""The flows calls get, ready to run, and how they are replaced while the app runs.

A ``Catalog`` is a loaded set of flows compiled for calls (``ivr.flow.compiled``), the
speech models they need loaded. The ``FlowLibrary`` holds the one in use and swaps it as a
whole on reload (a file changed, or SIGHUP): a call keeps the compiled flow it started
with, so a reload never changes a call in progress, and a bad edit keeps the flows in use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import watchfiles

from ivr.flow import FlowLoadError, FlowSet, load_flows
from ivr.flow.compiled import CompiledFlow, compile_flows
from ivr.speech.models import ModelNotFound, ModelStore

log = logging.getLogger(__name__)


class CatalogError(RuntimeError):
    pass


@dataclass(frozen=True)
class Catalog:
    flows: Mapping[str, CompiledFlow]
    default: CompiledFlow | None
    """The flow of ``Stasis(APP)`` without a flow argument."""

    @classmethod
    async def load(cls, flow_set: FlowSet, models: ModelStore, default_flow: str | None) -> Catalog:
        """Load the models the flows need; a flow whose model is missing is left out with a
        warning. Fails when no flow is left, or not the configured default one."""
        if default_flow is not None and default_flow not in flow_set.flows:
            raise CatalogError(
                f"the default flow {default_flow!r} is not a flow (flows: {', '.join(flow_set.flows) or 'none'})"
            )
        usable = dict(flow_set.flows)
        disabled: dict[str, str] = {}
        for language in sorted({flow.language for flow in usable.values()}):
            try:
                await models.preload([language])
            except ModelNotFound as exc:
                for name in [n for n, f in usable.items() if f.language == language]:
                    log.warning("flow %s disabled (%s): %s", name, usable[name].source, exc)
                    disabled[name] = f"flow {name!r} needs a {language!r} model: {exc}"
                    del usable[name]
        if not usable:
            why = "; ".join(disabled.values()) if disabled else "there are no flows"
            raise CatalogError(f"no flow can run: {why}")
        if default_flow is not None and default_flow not in usable:
            raise CatalogError(f"the default flow cannot run: {disabled[default_flow]}")
        compiled = {
            name: flow
            for name, flow in compile_flows(flow_set).items()
            if name in usable
        }
        default = compiled[default_flow] if default_flow else next(iter(compiled.values())) if len(compiled) == 1 else None
        if default is None:
            log.warning("no default flow: Stasis() without a flow name will be turned away (set default_flow)")
        return cls(compiled, default)

    def flow_for(self, requested: str | None) -> CompiledFlow | None:
        """The flow a call asked for (its Stasis argument), or the default one."""
        return self.flows.get(requested) if requested else self.default


class FlowLibrary:
    """The catalog in use: loaded once, reloaded on demand or when the files change."""

    def __init__(
        self,
        flows_dir: Path,
        grammars_dir: Path,
        models: ModelStore,
        default_flow: str | None,
        flow_set: FlowSet | None = None,
    ) -> None:
        self._flows_dir = flows_dir
        self._grammars_dir = grammars_dir
        self._models = models
        self._default_flow = default_flow
        self._first = flow_set
        self._reloading = asyncio.Lock()
        self.catalog: Catalog | None = None
        self.reloads = 0
        """How many reloads took effect (for tests and metrics)."""

    async def load(self) -> Catalog:
        """The first catalog (from the flow set given, or read now); raises what is wrong."""
        flow_set = self._first or await asyncio.to_thread(load_flows, self._flows_dir, self._grammars_dir)
        self.catalog = await Catalog.load(flow_set, self._models, self._default_flow)
        return self.catalog

    async def reload(self) -> bool:
        """Load the flows and grammars again. New calls get the new ones; calls in progress
        keep theirs; a bad edit keeps the flows in use and logs what is wrong."""
        async with self._reloading:
            try:
                flow_set = await asyncio.to_thread(load_flows, self._flows_dir, self._grammars_dir)
                catalog = await Catalog.load(flow_set, self._models, self._default_flow)
            except (FlowLoadError, CatalogError) as exc:
                log.error("flows not reloaded, the ones in use stay:\n%s", exc)
                return False
            for diagnostic in flow_set.diagnostics:
                log.warning("%s", diagnostic)
            self.catalog = catalog
            self.reloads += 1
            log.info("flows reloaded: %s", ", ".join(catalog.flows))
            return True

    async def watch(self) -> None:
        """Reload whenever a file under the flows or grammars directory changes (until cancelled)."""
        directories = [d for d in (self._flows_dir, self._grammars_dir) if d.is_dir()]
        async for _ in watchfiles.awatch(*directories, debounce=300):
            await self.reload()

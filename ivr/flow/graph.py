"""Draw a flow as a Mermaid flowchart: its menus, the routes between them, and where calls
leave for the dialplan.

Node ids are numbered in the order of the file (``menu1``, ``dest1``...) rather than derived
from names, which may be Korean, contain ``-`` or be Mermaid keywords such as ``end``; the
names are in the labels. The same flow always gives the same text.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.flow.model import Destination, Flow, Menu, Route

NO_ANSWER = "no-input / no-match"
"""The label of a menu's dotted edge to where it gives up."""


def mermaid(flow: Flow, taken: Mapping[tuple[str, str], int] | None = None) -> str:
    """The flow, as loaded (its routes name menus it has), as a Mermaid ``flowchart TD``.

    Menus are boxes with their name and prompt; a route is an edge labelled with its intent
    (``sales?`` when the menu confirms it) and its DTMF key (``sales / 1``); dialplan
    destinations are ``context,extension,priority`` end nodes; each menu has a dotted edge
    to where it gives up. With ``taken`` ((menu, intent) -> calls), each route's label ends
    with how many calls took it (``sales / 1 · 12``; the live monitor's flow view).
    """
    menu_ids = {name: f"menu{number}" for number, name in enumerate(flow.menus, 1)}
    destination_ids: dict[Destination, str] = {}
    edges: list[str] = []
    menus = flow.menus.items()
    for name, menu in menus:
        source = menu_ids[name]
        for intent, route in menu.routes.items():
            if route.menu is not None:
                target = menu_ids[route.menu]
            else:
                target = _destination_id(route.destination, destination_ids)
            label = _route_label(intent, route, menu)
            if taken is not None:
                label += f" · {taken.get((name, intent), 0)}"
            edges.append(f'    {source} -->|"{label}"| {target}')
        fallback = _destination_id(menu.fallback or flow.fallback, destination_ids)
        edges.append(f'    {source} -.->|"{NO_ANSWER}"| {fallback}')
    return "\n".join(
        [
            "flowchart TD",
            f'    entry(["{_text(flow.name)}"])',  # not `call`: a Mermaid keyword
            *(f'    {menu_ids[name]}["{_menu_label(name, menu)}"]' for name, menu in menus),
            *(f'    {id_}[["{_text(str(end))}"]]' for end, id_ in destination_ids.items()),
            f"    entry --> {menu_ids[flow.start]}",
            *edges,
        ]
    )


def _menu_label(name: str, menu: Menu) -> str:
    return "<br/>".join(_text(line) for line in (name, *menu.prompt))


def _route_label(intent: str, route: Route, menu: Menu) -> str:
    confirmed = menu.confirm_below > 0 and route.confirm is not None
    label = f"{intent}?" if confirmed else intent
    return _text(label if route.key is None else f"{label} / {route.key}")


def _destination_id(destination: Destination | None, ids: dict[Destination, str]) -> str:
    assert destination is not None, "a route to no menu has a destination"
    return ids.setdefault(destination, f"dest{len(ids) + 1}")


def _text(text: str) -> str:
    """Text for a quoted Mermaid label: quotes and markup as entity codes."""
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text

"""chan_websocket's text control messages (Asterisk externalMedia over websocket), parsed.

Binary frames carry raw slin16; text frames carry control messages in one of two formats
(``chan_websocket.conf`` ``control_message_format``, or ``f(json)`` in transport_data):

    MEDIA_START connection_id:fe27... channel:WebSocket/INCOMING/0x7f16 channel_id:1795557394.42 format:slin16 ...
    {"event":"MEDIA_START","connection_id":"lab_ws","channel_id":"1795557410.45",...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

EVENTS = frozenset(
    {
        "MEDIA_START",
        "MEDIA_XOFF",
        "MEDIA_XON",
        "QUEUE_DRAINED",
        "MEDIA_BUFFERING_COMPLETED",
        "MEDIA_MARK_PROCESSED",
        "DTMF_END",
        "STATUS",
        "ERROR",
    }
)
"""The events chan_websocket sends (from the module's source); anything else is not its."""


@dataclass(frozen=True)
class ControlMessage:
    event: str
    fields: dict[str, object] = field(default_factory=dict)


def parse_control(text: str) -> ControlMessage:
    """Parse one text frame, in either format. Unknown shapes come back as their first word,
    JSON that does not parse (nested too deeply for Python too) as ``INVALID``; never raises."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            return ControlMessage("INVALID", {"text": text})
        if isinstance(data, dict):
            event = str(data.pop("event", "UNKNOWN"))
            return ControlMessage(event, data)
        return ControlMessage("INVALID", {"text": text})
    event, _, rest = stripped.partition(" ")
    fields: dict[str, object] = {}
    for token in rest.split():
        key, sep, value = token.partition(":")
        if sep:
            fields[key] = value
    return ControlMessage(event or "UNKNOWN", fields)

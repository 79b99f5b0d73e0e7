"""What a caller says or keys never becomes part of a dialplan target, an ARI URL or a file path.

The caller's words and keys can reach the app's output in one place only: channel variable
values (``IVR_TRANSCRIPT``), and only after ``variable_value`` made them one short line.
The destinations come from the flow's YAML; the ARI URLs are built from channel ids. These
tests run the real dialog engine and the real ``AriCall`` on a real aioari client against
an ARI stand-in on loopback that records every request it gets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import aioari
import pytest
from aiohttp import web
from aioswagger11.http_client import AsynchronousHttpClient

from ivr.dialog.engine import DialogEngine
from ivr.dialog.events import Event, PromptFinished, Utterance
from ivr.flow.compiled import compile_flow
from ivr.flow.model import Destination, Flow, KeyEntry, Menu, Route, Timeouts
from ivr.grammar.matcher import IntentMatcher
from ivr.hearing.heard import Heard, Word
from ivr.runtime.conversation import Conversation
from ivr.telephony.call import MAX_VARIABLE_LENGTH, AriCall, variable_value
from ivr.telephony.router import EventRouter

CHANNEL = "1795557394.42"
HOSTILE = "sales/../../etc/passwd,support)${SHELL(rm -rf /)}\n[ivr-dest]\r\nexten=>s,1,Hangup()\x00\x1b[2J"


# -- the one place values are made safe -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("영업부 문의", "영업부 문의"),
        ("sales", "sales"),
        ("a,b)c(${X}|&;/../", "a,b)c(${X}|&;/../"),  # printable: kept, Asterisk never evaluates it
        ("line one\nline two\r\n", "line one line two"),
        ("tab\tand\vform\ffeed", "tab and form feed"),
        ("nul\x00esc\x1b[2Jdel\x7f", "nul esc [2Jdel"),
        ("bidi\u202eoverride\u2066isolate", "bidi override isolate"),
        ("line\u2028paragraph\u2029sep\x85nel", "line paragraph sep nel"),
        ("zero\u200bwidth", "zero width"),
        ("  spaced   out  ", "spaced out"),
        ("\u3000ideographic\u00a0nbsp", "ideographic nbsp"),
        ("", ""),
    ],
)
def test_variable_values_are_one_line_of_printable_text(value: str, safe: str) -> None:
    assert variable_value(value) == safe


def test_variable_values_are_cut_to_the_limit() -> None:
    assert variable_value("가" * 10_000) == "가" * MAX_VARIABLE_LENGTH
    assert variable_value("a " * 200) == ("a " * 128).strip()  # no trailing space after the cut
    assert len(variable_value(HOSTILE * 100)) <= MAX_VARIABLE_LENGTH


def test_non_text_values_become_text() -> None:
    assert variable_value(0.5) == "0.5"


# -- an ARI stand-in: a swagger description of the requests AriCall makes, and a log of them ---

OPERATIONS = [
    ("/channels/{channelId}/answer", "POST", "answer", "void", []),
    (
        "/channels/{channelId}/play", "POST", "play", "void",  # its Playback is not used
        [("media", "query", "string", True), ("playbackId", "query", "string", False)],
    ),
    ("/channels/{channelId}/variables", "POST", "setChannelVars", "void", [("variables", "body", "containers", True)]),
    (
        "/channels/{channelId}/variable", "POST", "setChannelVar", "void",
        [("variable", "query", "string", True), ("value", "query", "string", False)],
    ),
    (
        "/channels/{channelId}/continue", "POST", "continueInDialplan", "void",
        [("context", "query", "string", False), ("extension", "query", "string", False),
         ("priority", "query", "int", False)],
    ),
]


def channels_api(base: str, *, with_set_vars: bool) -> dict[str, Any]:
    apis = []
    for path, method, nickname, response, params in OPERATIONS:
        if nickname == "setChannelVars" and not with_set_vars:
            continue  # an Asterisk older than 22.10: one variable at a time
        parameters = [{"name": "channelId", "paramType": "path", "required": True, "dataType": "string"}]
        parameters += [
            {"name": name, "paramType": kind, "dataType": data_type, "required": required, "allowMultiple": False}
            for name, kind, data_type, required in params
        ]
        apis.append(
            {
                "path": path,
                "operations": [
                    {"httpMethod": method, "nickname": nickname, "responseClass": response, "parameters": parameters}
                ],
            }
        )
    return {
        "apiVersion": "2.0.0", "swaggerVersion": "1.1", "basePath": base, "resourcePath": "/api-docs/channels.{format}",
        "apis": apis, "models": {},
    }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Ari:
    url: str
    requests: list[Request] = field(default_factory=list)


@pytest.fixture(params=[True, False], ids=["setChannelVars", "setChannelVar"])
async def ari(request: pytest.FixtureRequest) -> AsyncIterator[Ari]:
    recorded = Ari("")

    async def resources(_: web.Request) -> web.Response:
        return web.json_response(
            {"apiVersion": "2.0.0", "swaggerVersion": "1.1", "basePath": recorded.url + "ari",
             "apis": [{"path": "/api-docs/channels.{format}", "description": "Channel resources"}]}
        )

    async def channels(_: web.Request) -> web.Response:
        return web.json_response(channels_api(recorded.url + "ari", with_set_vars=request.param))

    async def anything(http: web.Request) -> web.Response:
        body = await http.text()
        recorded.requests.append(
            Request(http.method, http.raw_path.partition("?")[0], dict(http.query), json.loads(body) if body else None)
        )
        if http.path.endswith("/play"):
            return web.json_response({"id": http.query.get("playbackId", "p"), "state": "queued"})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/ari/api-docs/resources.json", resources)
    app.router.add_get("/ari/api-docs/channels.json", channels)
    app.router.add_route("*", "/ari/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    recorded.url = f"http://127.0.0.1:{port}/"
    try:
        yield recorded
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(ari: Ari) -> AsyncIterator[aioari.Client]:
    client = aioari.Client(ari.url, AsynchronousHttpClient())
    await client.init()
    try:
        yield client
    finally:
        await client.close()


# -- a dialog, run for real, with hostile words and keys -------------------------------------

SALES = Destination(context="ivr-dest", extension="sales")
FALLBACK = Destination(context="ivr-fallback", extension="s")


def flow() -> Flow:
    return Flow(
        name="desk",
        language="ko",
        start="main",
        fallback=FALLBACK,
        menus={
            "main": Menu(
                prompt="sound:main",
                grammar="g",
                routes={"sales": Route(context="ivr-dest", extension="sales", key="1", set={"DEPT": "sales"})},
                retries=1,
                confirm_below=0,  # take what is heard without "did you say ...?"
                dtmf=KeyEntry(max_digits=4),
                timeouts=Timeouts(no_input=5),
            )
        },
    )


class Port:
    """The conversation's call port over a real ``AriCall`` (as ``CallSession`` does it)."""

    def __init__(self, call: AriCall) -> None:
        self.call = call

    async def play(self, playback_id: str, media: Sequence[str]) -> None:
        await self.call.play(playback_id, media)

    async def stop_prompt(self, playback_id: str) -> None:
        pass  # nothing plays on the stand-in

    async def set_variables(self, variables: Mapping[str, str]) -> None:
        await self.call.set_variables(variables)

    async def leave(self, destination: Destination) -> None:
        await self.call.continue_in_dialplan(destination)


def heard(text: str) -> Heard:
    """An utterance whose words are whatever the recognizer could be made to say."""
    return Heard(tuple(Word(w, 1.0) for w in text.split(" ")), 0.0, 0.1, 0.9, 1.0, 0.8)


async def run_call(client: aioari.Client, answers: list[Event | dict[str, Any]]) -> DialogEngine:
    """One call through the flow: each answer is a dialog event or an ARI event for the channel."""
    router = EventRouter(lambda event: None)
    inbox: asyncio.Queue[Event] = asyncio.Queue()
    call = AriCall(client, router, {"id": CHANNEL, "name": "PJSIP/caller-00000001"}, inbox.put_nowait)
    engine = DialogEngine(compile_flow(flow(), {"g": IntentMatcher({"sales": ["영업부"]})}), call_id=CHANNEL)
    conversation = Conversation(engine, Port(call), None)
    now = 0.0
    await conversation.start(now)
    for answer in answers:
        if engine.finished:
            break
        now += 1.0
        if isinstance(answer, dict):
            router.dispatch({**answer, "channel": {"id": CHANNEL}})
            while not inbox.empty():
                await conversation.handle(inbox.get_nowait(), now)
        else:
            await conversation.handle(answer, now)
    call.close()
    return engine


def variables_set(ari: Ari) -> dict[str, str]:
    values: dict[str, str] = {}
    for request in ari.requests:
        if request.path.endswith("/variables"):
            values.update(request.body["variables"])
        elif request.path.endswith("/variable"):
            values[request.query["variable"]] = request.query.get("value", "")
    return values


def assert_only_ids_and_yaml_reached_ari(ari: Ari, destination: Destination) -> None:
    for request in ari.requests:
        # Every URL is one of our channel's operations, named by its id and nothing else.
        assert unquote(request.path).startswith(f"/ari/channels/{CHANNEL}/"), request.path
        assert request.path.rsplit("/", 1)[1] in {"play", "variables", "variable", "continue"}
        if request.path.endswith("/play"):
            assert request.query["media"] == "sound:main"
            assert request.query["playbackId"].startswith(f"{CHANNEL}-prompt-")
    [leave] = [r for r in ari.requests if r.path.endswith("/continue")]
    assert leave.query == {
        "context": destination.context, "extension": destination.extension, "priority": str(destination.priority)
    }


async def test_hostile_words_end_up_only_in_a_sanitized_variable(ari: Ari, client: aioari.Client) -> None:
    engine = await run_call(
        client,
        [
            PromptFinished(f"{CHANNEL}-prompt-1"),
            Utterance(heard(HOSTILE)),
            PromptFinished(f"{CHANNEL}-prompt-2"),
            Utterance(heard("sales " * 300 + "/../\n${EXTEN}")),
        ],
    )

    assert engine.outcome is not None and engine.outcome.result.value == "no-match"
    assert_only_ids_and_yaml_reached_ari(ari, FALLBACK)
    values = variables_set(ari)
    assert values["IVR_RESULT"] == "no-match" and values["IVR_INTENT"] == ""
    transcript = values["IVR_TRANSCRIPT"]
    assert len(transcript) <= MAX_VARIABLE_LENGTH and transcript.isprintable()
    assert transcript == variable_value(engine.outcome.transcript)
    assert all(value.isprintable() and len(value) <= MAX_VARIABLE_LENGTH for value in values.values())
    # Not a route, not a URL, not a file: the words appear nowhere else.
    others = [r for r in ari.requests if not r.path.endswith(("/variables", "/variable"))]
    assert "etc" not in json.dumps([r.__dict__ for r in others])


async def test_the_right_words_still_route_to_the_yaml_destination(ari: Ari, client: aioari.Client) -> None:
    engine = await run_call(client, [PromptFinished(f"{CHANNEL}-prompt-1"), Utterance(heard("영업부"))])
    assert engine.outcome is not None and engine.outcome.result.value == "matched"
    assert_only_ids_and_yaml_reached_ari(ari, SALES)
    values = variables_set(ari)
    assert (values["IVR_INTENT"], values["IVR_TRANSCRIPT"], values["DEPT"]) == ("sales", "영업부", "sales")


async def test_hostile_keys_are_dropped_and_routes_come_from_yaml(
    ari: Ari, client: aioari.Client, caplog: pytest.LogCaptureFixture
) -> None:
    dtmf = "ChannelDtmfReceived"
    engine = await run_call(
        client,
        [
            {"type": dtmf, "digit": "1,ivr-dest,s"},  # not a key: dropped
            {"type": dtmf, "digit": "../"},
            {"type": dtmf, "digit": ["1"]},
            {"type": dtmf},
            {"type": dtmf, "digit": "9"},
            {"type": dtmf, "digit": "9"},
            {"type": dtmf, "digit": "#"},  # "99": matches no route
            {"type": dtmf, "digit": "1"},  # the route's key
            {"type": dtmf, "digit": "#"},
        ],
    )

    assert engine.outcome is not None and engine.outcome.result.value == "dtmf"
    assert_only_ids_and_yaml_reached_ari(ari, SALES)
    assert variables_set(ari)["IVR_TRANSCRIPT"] == "1"
    dropped = [r.getMessage() for r in caplog.records if "ignoring a DTMF event" in r.getMessage()]
    assert len(dropped) == 4 and all(line.startswith("PJSIP/caller-00000001: ") for line in dropped)


async def test_playback_events_without_an_id_are_ignored(client: aioari.Client, caplog: pytest.LogCaptureFixture) -> None:
    router = EventRouter(lambda event: None)
    emitted: list[Event] = []
    call = AriCall(client, router, {"id": CHANNEL}, emitted.append)
    for playback in (None, {}, {"id": 5}, "p", {"id": "p-1", "target_uri": f"channel:{CHANNEL}"}):
        router.dispatch({"type": "PlaybackFinished", "playback": playback, "channel": {"id": CHANNEL}})
    assert emitted == [PromptFinished("p-1")]
    assert not any(r.exc_info for r in caplog.records)
    call.close()

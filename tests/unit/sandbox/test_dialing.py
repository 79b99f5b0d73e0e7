"""ivr.sandbox.dialing (`speech-ivr call`): what needs no Asterisk.

The events below are built as the lab's observer (an ARI app subscribed to everything) sees a
test call: the shapes of a real call recorded through the sandbox (ChannelDialplan of each
application run, ChannelVarset of each variable, the caller context's user events; no
StasisStart/StasisEnd, which only the app that owns a channel gets).
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import wave
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ivr.exits import Exit
from ivr.project import EXAMPLES_DIR
from ivr.sandbox import AriTarget, Sandbox, parse_timestamp
from ivr.sandbox.dialing import (
    CALLER_VOICES,
    CallError,
    CallReport,
    Location,
    Outcome,
    Voice,
    call_command,
    caller_voice,
    checked_dtmf,
    converted_audio,
    read_report,
    resolve_target,
)

CALLER = "lab-e603467ea2ff"
IVR_LEG = f"{CALLER}-ivr"
needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")

Event = dict[str, Any]


def _channel(leg: str, context: str, exten: str, priority: int, app: str = "") -> dict[str, Any]:
    side = "1" if leg == CALLER else "2"
    return {
        "id": leg,
        "name": f"Local/switchboard-ko@ivr-flow-00000000;{side}",
        "state": "Up",
        "protocol_id": "",
        "caller": {"name": "", "number": ""},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {
            "context": context,
            "exten": exten,
            "priority": priority,
            "app_name": app,
            "app_data": "",
        },
        "creationtime": "2026-12-01T14:56:08.990+0000",
        "language": "en",
    }


class Observed:
    """Events of one test call in the observer's shape; the IVR leg's place in the dialplan is
    kept as it moves, as the channel snapshots in real events show it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.where = {
            CALLER: ("caller", "s", 1, ""),
            IVR_LEG: ("ivr-flow", "switchboard-ko", 1, ""),
        }

    def _add(self, kind: str, leg: str, time: str, **fields: Any) -> None:
        self.events.append(
            {
                "type": kind,
                "timestamp": f"2026-12-01T14:56:{time}+0000",
                **fields,
                "channel": _channel(leg, *self.where[leg]),
                "asterisk_id": "02:fc:00:00:00:01",
                "application": "speech-ivr-observer",
            }
        )

    def dialplan(
        self, leg: str, time: str, where: tuple[str, str, int], app: str, data: str
    ) -> None:
        self.where[leg] = (*where, app)
        self._add("ChannelDialplan", leg, time, dialplan_app=app, dialplan_app_data=data)

    def varset(self, leg: str, time: str, variable: str, value: str) -> None:
        self._add("ChannelVarset", leg, time, variable=variable, value=value)

    def userevent(self, leg: str, time: str, name: str, **fields: str) -> None:
        self._add(
            "ChannelUserevent", leg, time, eventname=name, userevent={"eventname": name, **fields}
        )

    def hangup(self, leg: str, time: str) -> None:
        self._add("ChannelHangupRequest", leg, time, cause=16, soft=True)
        self._add("ChannelDestroyed", leg, time, cause=16, cause_txt="Normal Clearing")

    def entering_stasis(self, app_data: str = "speech-ivr,switchboard-ko") -> Observed:
        """The caller's variables copied to the IVR leg, which enters Stasis(); the caller
        answers, speaks from 09.994 to 10.662 and holds the line."""
        for variable, value in {"CALLER_ID": CALLER, "SPEECHFILE": "speech-ivr/calls/x"}.items():
            self.varset(IVR_LEG, "08.990", variable, value)
        self.dialplan(IVR_LEG, "08.991", ("ivr-flow", "switchboard-ko", 1), "Stasis", app_data)
        self.varset(IVR_LEG, "08.991", "STASISSTATUS", "")
        self.dialplan(CALLER, "08.993", ("caller", "s", 1), "Answer", "")
        self.userevent(CALLER, "09.994", "CallerSpeechStart", Call=CALLER)
        self.dialplan(CALLER, "09.994", ("caller", "s", 6), "Playback", "speech-ivr/calls/x")
        self.userevent(CALLER, "10.662", "CallerSpeechEnd", Call=CALLER)
        self.dialplan(CALLER, "10.662", ("caller", "s", 10), "Wait", "90")
        return self

    def routed(self, variables: dict[str, str], where: tuple[str, str, int]) -> Observed:
        """The app sets the variables, continues the call at `where`, which hangs up."""
        for variable, value in variables.items():
            self.varset(IVR_LEG, "11.105", variable, value)
        self.varset(IVR_LEG, "11.107", "STASISSTATUS", "SUCCESS")
        self.dialplan(IVR_LEG, "11.108", where, "UserEvent", "IvrArrived")
        self.userevent(IVR_LEG, "11.108", "IvrArrived", Context=where[0], Exten=where[1])
        self.dialplan(IVR_LEG, "11.108", (where[0], where[1], where[2] + 1), "Hangup", "")
        self.hangup(IVR_LEG, "11.108")
        self.hangup(CALLER, "11.109")
        return self

    def report(self, app: str = "speech-ivr") -> CallReport:
        return read_report(self.events, caller=CALLER, ivr_leg=IVR_LEG, app=app)


SALES = {
    "DEPARTMENT": "sales",
    "IVR_INTENT": "sales",
    "IVR_CONFIDENCE": "1.00",
    "IVR_TRANSCRIPT": "영업",
    "IVR_FLOW": "switchboard-ko",
    "IVR_MENU": "main",
    "IVR_RESULT": "matched",
}


def test_a_routed_call_reports_where_the_ivr_leg_continued_and_what_the_app_set() -> None:
    report = Observed().entering_stasis().routed(SALES, ("ivr-dest", "sales", 1)).report()
    assert report.outcome is Outcome.ARRIVED
    assert report.destination == Location("ivr-dest", "sales", 1)  # not the Hangup at priority 2
    assert list(report.variables.items()) == [
        ("IVR_RESULT", "matched"),
        ("IVR_INTENT", "sales"),
        ("IVR_CONFIDENCE", "1.00"),
        ("IVR_TRANSCRIPT", "영업"),
        ("IVR_MENU", "main"),
        ("DEPARTMENT", "sales"),  # a route's set:
        ("IVR_FLOW", "switchboard-ko"),
    ]  # and not CALLER_ID or SPEECHFILE, set before Stasis, nor STASISSTATUS
    assert report.arrived == parse_timestamp("2026-12-01T14:56:11.108+0000")
    assert report.after_speech == pytest.approx(0.446)


def test_the_report_as_json_and_as_text() -> None:
    report = Observed().entering_stasis().routed(SALES, ("ivr-dest", "sales", 1)).report()
    document = report.as_json()
    assert document["destination"] == {"context": "ivr-dest", "extension": "sales", "priority": 1}
    assert document["after_speech_ms"] == 446
    assert document["outcome"] == "arrived"
    assert document["variables"]["IVR_TRANSCRIPT"] == "영업"
    json.dumps(document)  # serializable as it is
    lines = report.text().splitlines()
    assert lines[0] == (
        f"call {CALLER} continued at ivr-dest,sales,1, 446 ms after the caller's speech ended"
    )
    assert lines[1].split() == ["IVR_RESULT", "matched"]


def test_variables_the_app_did_not_set_are_reported_empty() -> None:
    report = (
        Observed()
        .entering_stasis()
        .routed(
            {"IVR_RESULT": "dtmf", "BRIDGEPEER": "WebSocket/INCOMING/0x7f"},
            ("ivr-dest", "billing", 1),
        )
        .report()
    )
    assert report.variables == {
        "IVR_RESULT": "dtmf",
        "IVR_INTENT": "",
        "IVR_CONFIDENCE": "",
        "IVR_TRANSCRIPT": "",
        "IVR_MENU": "",
    }  # BRIDGEPEER is Asterisk's own


def test_a_call_still_in_the_ivr_has_not_arrived() -> None:
    observed = Observed().entering_stasis()
    observed.varset(IVR_LEG, "11.105", "IVR_RESULT", "no-input")
    report = observed.report()
    assert (report.outcome, report.entered, report.destination) == (Outcome.TIMEOUT, True, None)
    assert report.after_speech is None
    assert Observed().report().entered is False


def test_a_call_hung_up_in_the_ivr_went_nowhere() -> None:
    observed = Observed().entering_stasis()
    observed.hangup(IVR_LEG, "12.000")
    # Stasis() returns once the channel is hung up; an `h` extension may run after that.
    observed.varset(IVR_LEG, "12.000", "STASISSTATUS", "SUCCESS")
    observed.dialplan(IVR_LEG, "12.001", ("ivr-flow", "h", 1), "NoOp", "")
    report = observed.report()
    assert (report.outcome, report.destination) == (Outcome.HUNG_UP, None)


def test_stasis_failing_means_no_app_was_connected() -> None:
    observed = Observed().entering_stasis(app_data="speech-ivr")
    observed.varset(IVR_LEG, "08.992", "STASISSTATUS", "FAILED")
    observed.dialplan(IVR_LEG, "08.992", ("ivr-in", "s", 2), "Hangup", "")
    assert observed.report().outcome is Outcome.STASIS_FAILED


def test_only_the_ivr_apps_stasis_counts_and_only_this_calls_legs() -> None:
    observed = Observed().entering_stasis(app_data="speech-ivr-other,switchboard-ko")
    assert observed.report().entered is False
    assert observed.report(app="speech-ivr-other").entered is True

    other_call = Observed().entering_stasis().routed(SALES, ("ivr-dest", "sales", 1))
    for event in other_call.events:
        event["channel"]["id"] = event["channel"]["id"].replace(CALLER, "lab-000000000000")
    mixed = Observed().entering_stasis()
    mixed.events = other_call.events + mixed.events
    report = mixed.report()
    assert (report.outcome, report.variables["IVR_INTENT"]) == (Outcome.TIMEOUT, "")


@pytest.mark.parametrize("keys", ["3", "0123456789", "*#", "ABCD", "1#"])
def test_dtmf_keys_a_caller_can_press(keys: str) -> None:
    assert checked_dtmf(keys) == keys


@pytest.mark.parametrize("keys", ["", "a", "1,2", "E", "1 2", "12x", "1)"])
def test_other_keys_are_refused(keys: str) -> None:
    with pytest.raises(CallError, match="is not DTMF: use the keys 0-9, \\*, # and A-D") as caught:
        checked_dtmf(keys)
    assert caught.value.code == Exit.USAGE


def _command(**options: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = call_command(out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


def test_bad_dtmf_is_refused_before_anything_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sandbox(self: Sandbox) -> None:
        raise AssertionError("looked for a sandbox")

    monkeypatch.setattr(Sandbox, "status", no_sandbox)
    code, out, err = _command(dtmf="1x")
    assert (code, out) == (Exit.USAGE, "")
    assert err == "speech-ivr call: '1x' is not DTMF: use the keys 0-9, *, # and A-D\n"


def test_a_call_needs_something_to_say() -> None:
    code, _, err = _command()
    assert code == Exit.USAGE
    assert "give --say TEXT, --wav FILE or --dtmf KEYS" in err


def test_no_sandbox_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sandbox, "status", lambda self: None)
    assert _command(dtmf="3") == (
        Exit.UNAVAILABLE,
        "",
        "speech-ivr call: sandbox 'default' is not running: speech-ivr sandbox up\n",
    )
    _, _, err = _command(dtmf="3", sandbox="lab2")
    assert (
        err == "speech-ivr call: sandbox 'lab2' is not running: speech-ivr sandbox up --name lab2\n"
    )


def test_an_asterisk_not_listening_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SPEECH_IVR_ARI_PASSWORD", "secret")
    url = f"http://127.0.0.1:{port}/"
    code, out, err = _command(dtmf="3", ari_url=url, sounds=tmp_path)
    assert (code, out) == (Exit.UNAVAILABLE, "")
    assert err.startswith(f"speech-ivr call: cannot reach Asterisk's ARI at {url}: ")
    assert err.count("\n") == 1


def test_an_asterisk_by_url_takes_its_password_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("from-file\n")
    monkeypatch.setenv("SPEECH_IVR_ARI_PASSWORD", "from-env")
    given: dict[str, Any] = {
        "sandbox": None,
        "ari_url": "http://127.0.0.1:8088/",
        "ari_user": None,
        "sounds": tmp_path,
    }

    def target(password: str) -> AriTarget:
        return AriTarget(
            ari_url="http://127.0.0.1:8088/",
            ari_user="speech-ivr",
            ari_password=SecretStr(password),
            sounds_dir=tmp_path / "speech-ivr",
        )

    assert resolve_target(**given, ari_password_file=None) == target("from-env")
    with pytest.raises(CallError, match="give ari_password or ari_password_file, not both"):
        resolve_target(**given, ari_password_file=password_file)
    monkeypatch.delenv("SPEECH_IVR_ARI_PASSWORD")
    assert resolve_target(**given, ari_password_file=password_file) == target("from-file")
    assert "from-file" not in repr(target("from-file"))
    with pytest.raises(CallError, match="no ARI password: set \\$SPEECH_IVR_ARI_PASSWORD"):
        resolve_target(**given, ari_password_file=None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"sandbox": "x", "ari_url": "http://127.0.0.1:8088/"},
            "give --sandbox or --ari-url, not both",
        ),
        ({"sounds": Path("/tmp")}, "--sounds go with --ari-url, not with a sandbox"),
        ({"ari_url": "127.0.0.1:8088", "sounds": Path("/tmp")}, "--ari-url: must be an http:// or https:// URL"),
        ({"ari_url": "http://u:p@127.0.0.1:8088/", "sounds": Path("/tmp")}, "--ari-url: must not hold a user or password"),
        (
            {"ari_url": "http://127.0.0.1:8088/", "sounds": Path("/nonexistent")},
            "give --sounds DIR",
        ),
        (
            {
                "ari_url": "http://127.0.0.1:8088/",
                "sounds": Path("/tmp"),
                "ari_password_file": Path("/nonexistent"),
            },
            "ari_password_file: cannot read /nonexistent",
        ),
    ],
)
def test_bad_targets_are_usage_errors(options: dict[str, Any], message: str) -> None:
    code, out, err = _command(dtmf="3", **options)
    assert (code, out) == (Exit.USAGE, "")
    assert message in err and err.count("\n") == 1


def test_the_callers_voice_follows_the_flows_language(tmp_path: Path) -> None:
    flows = [tmp_path, EXAMPLES_DIR / "flows"]
    assert caller_voice("switchboard-ko", None, flows) == Voice("ko+f3", 130) == CALLER_VOICES["ko"]
    assert caller_voice("switchboard-en", None, flows) == Voice("en-us", 160)
    assert caller_voice(None, None, flows) == Voice("ko+f3", 130)  # the default flow
    assert caller_voice("switchboard-ko", "ko+m1", flows) == Voice("ko+m1", 130)
    assert caller_voice("elsewhere", "en-gb", flows) == Voice("en-gb", 160)
    with pytest.raises(CallError, match="no flow 'elsewhere' in .* give --voice"):
        caller_voice("elsewhere", None, flows)
    (tmp_path / "broken.yaml").write_text("name: [\n")
    (tmp_path / "tiny.yaml").write_text(
        "name: tiny\nlanguage: ja\nstart: main\nfallback: {context: f, extension: s}\n"
        "menus:\n  main: {prompt: 'sound:x', grammar: g, routes: {a: {context: c, extension: a}}}\n"
    )
    with pytest.raises(CallError, match="no caller voice for the flow's language 'ja'"):
        caller_voice("tiny", None, flows)


@needs_sox
def test_a_wav_file_becomes_what_the_caller_plays(tmp_path: Path) -> None:
    recording = tmp_path / "caller.wav"
    with wave.open(str(recording), "wb") as audio:  # 8 kHz stereo: resampled, mixed to mono
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(4 * 4000))
    sounds = tmp_path / "speech-ivr"
    media = converted_audio(recording, sounds)
    assert media.startswith("speech-ivr/calls/")
    played = tmp_path / f"{media}.sln16"
    assert abs(played.stat().st_size - 16000) <= 64  # 0.5 s of 16 kHz 16-bit mono
    assert converted_audio(recording, sounds) == media  # named by content: converted once

    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("hello")
    with pytest.raises(CallError, match="sox cannot read .*notes.wav as audio"):
        converted_audio(not_audio, sounds)
    with pytest.raises(CallError, match="cannot read .*missing.wav"):
        converted_audio(tmp_path / "missing.wav", sounds)

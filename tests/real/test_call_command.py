"""`speech-ivr call` against the sandbox Asterisk with the app running: real test calls, the
report read from Asterisk's events."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from pathlib import Path
from typing import Any

import pytest

from ivr.exits import Exit
from ivr.sandbox import SandboxInfo
from ivr.sandbox.dialing import CallError, call_command, place_test_call
from ivr.sandbox.prompts import SWITCHBOARD_KO_CALLERS
from ivr.telephony.app import SpeechIvrApp

pytestmark = pytest.mark.real

FLOW = "switchboard-ko"


async def _command(**options: Any) -> tuple[int, str, str]:
    """The command as the CLI runs it (its own event loop), beside the app's loop."""
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(call_command, out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


async def test_a_caller_saying_yeongeop_is_sent_to_sales(
    ivr_app: SpeechIvrApp, sandbox: SandboxInfo
) -> None:
    # The voice comes from the flow's language: ko+f3 at 130, which routes "영업" to sales.
    assert (SWITCHBOARD_KO_CALLERS["sales"].voice, SWITCHBOARD_KO_CALLERS["sales"].speed) == (
        "ko+f3",
        130,
    )
    code, out, err = await _command(flow=FLOW, say="영업", sandbox=sandbox.name)
    assert (code, err) == (Exit.OK, ""), out
    first, *variables = out.splitlines()
    assert first.startswith("call lab-") and " continued at ivr-dest,sales,1, " in first
    assert first.endswith(" ms after the caller's speech ended")
    values = dict(line.split(maxsplit=1) for line in variables)
    assert values["IVR_RESULT"] == "matched"
    assert values["IVR_INTENT"] == "sales"
    assert values["IVR_TRANSCRIPT"] == "영업"
    assert values["IVR_MENU"] == "main"
    assert float(values["IVR_CONFIDENCE"]) >= 0.5


async def test_dtmf_3_through_an_asterisk_given_by_url_goes_to_billing(
    ivr_app: SpeechIvrApp, sandbox: SandboxInfo, tmp_path: Path
) -> None:
    password_file = tmp_path / "ari-password"
    password_file.write_text(sandbox.ari_password.get_secret_value() + "\n")
    code, out, err = await _command(
        flow=FLOW,
        dtmf="3",
        ari_url=sandbox.ari_url,
        ari_user=sandbox.ari_user,
        ari_password_file=password_file,
        sounds=sandbox.sounds_dir.parent,
        as_json=True,
    )
    assert (code, err) == (Exit.OK, ""), out
    report = json.loads(out)
    assert report["outcome"] == "arrived" and report["error"] is None
    assert report["destination"] == {"context": "ivr-dest", "extension": "billing", "priority": 1}
    variables = report["variables"]
    assert (variables["IVR_RESULT"], variables["IVR_INTENT"]) == ("dtmf", "billing")
    assert (variables["IVR_TRANSCRIPT"], variables["IVR_MENU"]) == ("3", "main")
    assert variables["DEPARTMENT"] == "billing"  # the route's set:
    assert 0 < report["after_speech_ms"] < 5000


async def test_a_wav_file_is_heard_as_the_same_words_said(
    ivr_app: SpeechIvrApp, sandbox: SandboxInfo, tmp_path: Path
) -> None:
    # The caller's rendering of "영업" as a 16 kHz WAV file: sox converts it back sample for
    # sample, so the IVR hears exactly what the --say call above said.
    media = SWITCHBOARD_KO_CALLERS["sales"].render(sandbox.sounds_dir)
    spoken = sandbox.sounds_dir.parent / f"{media}.sln16"
    recording = tmp_path / "caller.wav"
    with wave.open(str(recording), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16000)
        audio.writeframes(spoken.read_bytes())
    code, out, err = await _command(flow=FLOW, wav=recording, sandbox=sandbox.name, as_json=True)
    assert (code, err) == (Exit.OK, ""), out
    report = json.loads(out)
    assert report["destination"]["extension"] == "sales"
    assert report["variables"]["IVR_TRANSCRIPT"] == "영업"


async def test_a_wrong_password_is_one_line(
    sandbox: SandboxInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPEECH_IVR_ARI_PASSWORD", "not-" + sandbox.ari_password.get_secret_value())
    code, out, err = await _command(
        dtmf="3", ari_url=sandbox.ari_url, sounds=sandbox.sounds_dir.parent
    )
    assert (code, out) == (Exit.UNAVAILABLE, "")
    assert err == (
        f"speech-ivr call: ARI at {sandbox.ari_url} refused the user and password (HTTP 401)\n"
    )


async def test_no_app_connected_is_said_before_calling(sandbox: SandboxInfo) -> None:
    with pytest.raises(CallError) as caught:
        await place_test_call(sandbox, flow=FLOW, dtmf="3", app="speech-ivr-absent")
    assert caught.value.code == Exit.UNAVAILABLE
    assert str(caught.value) == (
        "no app 'speech-ivr-absent' is connected to Asterisk: start "
        f"`speech-ivr run --sandbox {sandbox.name}`"
    )

"""`speech-ivr call`: one test call into the IVR, reported as Asterisk saw it.

The call is a `CallLab` call: a Local channel whose `;1` leg runs the `caller` context (it plays
the caller's audio, then sends the keys) and whose `;2` leg, the IVR leg, enters `Stasis()`.
What is reported comes only from the ARI events the lab's observer sees of those legs: the
`ChannelVarset` events of the IVR leg while it is in Stasis (the `IVR_*` variables and a route's
`set:`), the `STASISSTATUS` that `Stasis()` sets as it returns, and the `ChannelDialplan` event of
the first dialplan application the leg runs after that: its location is where the app continued
the call. The observer gets no StasisStart/StasisEnd of another app's channels, hence Stasis seen
through the dialplan; and the sandbox's `IvrArrived` user event is not used, so that the same
works on an admin's Asterisk, whose destinations are real queues and phones.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from ivr.exits import Exit
from ivr.flow import FlowLoadError, load_flow
from ivr.flow.loader import yaml_files
from ivr.project import EXAMPLES_DIR
from ivr.sandbox import (
    AriTarget,
    CallLab,
    CallTarget,
    PlacedCall,
    Sandbox,
    SandboxError,
    SandboxInfo,
    parse_timestamp,
    synthesize,
)
from ivr.sandbox.calls import IVR_APP, POLL_INTERVAL, Event
from ivr.settings import SettingsError, load_settings

DTMF_KEYS = frozenset("0123456789*#ABCD")
FLOW_NAME = re.compile(r"[-a-zA-Z0-9]{2,}")
"""A flow name the sandbox's `ivr-flow` context takes (`Local/FLOW@ivr-flow`)."""
REPORTED = ("IVR_RESULT", "IVR_INTENT", "IVR_CONFIDENCE", "IVR_TRANSCRIPT", "IVR_MENU")
"""Always in a report, empty when the app did not set them (as the dialplan sees them then)."""
ASTERISK_OWN = frozenset({"STASISSTATUS", "BRIDGEPEER", "BRIDGEPVTCALLID"})
"""Variables Asterisk sets on a channel in Stasis by itself: not the app's."""
SOUNDS_SUBDIR = "speech-ivr"
CALLS_SUBDIR = "calls"
DEBIAN_SOUNDS = Path("/usr/share/asterisk/sounds")
# sox output options of what test callers play: 16 kHz raw signed linear (.sln16), which a
# slin16 test call hands to the IVR sample for sample.
SLN16 = ["-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-L"]


class CallError(Exception):
    """Why no test call could be placed or watched: one line, and the exit status it means."""

    def __init__(self, message: str, code: Exit = Exit.USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice and speed (words per minute) for the caller's `--say`."""

    name: str
    speed: int


CALLER_VOICES = {"ko": Voice("ko+f3", 130), "en": Voice("en-us", 160)}
"""The caller's voice for a flow's language (with ko+f3 at 130 the Korean callers of
`SWITCHBOARD_KO_CALLERS` route without a confirmation)."""
OTHER_SPEED = 160
"""The speed of a `--voice` given for a language without a voice of its own here."""


class Outcome(StrEnum):
    ARRIVED = "arrived"
    """The app continued the call in the dialplan."""
    STASIS_FAILED = "stasis-failed"
    """`Stasis()` found no app of that name connected and returned at once."""
    HUNG_UP = "hung-up"
    """The IVR leg was hung up before it went anywhere."""
    TIMEOUT = "timeout"
    """None of the above yet: the call was still in the IVR (or not yet in it)."""


@dataclass(frozen=True)
class Location:
    """A place in the dialplan, written `context,extension,priority` as in `Goto()`."""

    context: str
    extension: str
    priority: int

    def __str__(self) -> str:
        return f"{self.context},{self.extension},{self.priority}"


@dataclass(frozen=True)
class CallReport:
    """What became of a test call, as the observer saw it."""

    call_id: str
    outcome: Outcome
    entered: bool
    """Whether the IVR leg reached `Stasis(app)`."""
    destination: Location | None
    """Where the IVR leg ran its first application after Stasis (also for STASIS_FAILED)."""
    variables: dict[str, str]
    """`REPORTED`, then whatever else the app set on the IVR leg while it was in Stasis."""
    speech_ended: float | None
    """The caller's `CallerSpeechEnd`, Asterisk's timestamp (epoch seconds)."""
    arrived: float | None
    """The `ChannelDialplan` at the destination, Asterisk's timestamp."""

    @property
    def after_speech(self) -> float | None:
        """Seconds from the end of the caller's speech to the arrival, both on Asterisk's clock."""
        if self.speech_ended is None or self.arrived is None:
            return None
        return self.arrived - self.speech_ended

    def as_json(self) -> dict[str, Any]:
        after = self.after_speech
        return {
            "call": self.call_id,
            "outcome": self.outcome.value,
            "destination": asdict(self.destination) if self.destination else None,
            "variables": self.variables,
            "after_speech_ms": None if after is None else round(after * 1000),
        }

    def text(self) -> str:
        after = self.after_speech
        lines = [
            f"call {self.call_id} continued at {self.destination or 'nowhere'}"
            + ("" if after is None else f", {after * 1000:.0f} ms after the caller's speech ended")
        ]
        width = max(len(name) for name in self.variables)
        lines += [f"  {name:<{width}}  {value}".rstrip() for name, value in self.variables.items()]
        return "\n".join(lines)


def read_report(
    events: Iterable[Event], *, caller: str, ivr_leg: str, app: str = IVR_APP
) -> CallReport:
    """The report on a test call from the observer's events (in the order received) of its
    caller leg `caller` and its IVR leg `ivr_leg`."""
    entered = ended = False
    stasis_status = ""
    set_in_stasis: dict[str, str] = {}
    destination: Location | None = None
    arrived = speech_ended = None
    for event in events:
        kind = event["type"]
        channel = event.get("channel") or {}
        if (
            kind == "ChannelUserevent"
            and event["eventname"] == "CallerSpeechEnd"
            and event["userevent"].get("Call") == caller
        ):
            speech_ended = parse_timestamp(event["timestamp"])
        if channel.get("id") != ivr_leg or destination is not None or ended:
            continue
        if kind == "ChannelDialplan":
            if stasis_status:
                where = channel["dialplan"]
                destination = Location(where["context"], where["exten"], int(where["priority"]))
                arrived = parse_timestamp(event["timestamp"])
            elif event["dialplan_app"] == "Stasis":
                entered = entered or event["dialplan_app_data"].split(",")[0] == app
        elif kind == "ChannelVarset" and entered and not stasis_status:
            if event["variable"] == "STASISSTATUS":
                stasis_status = event["value"]  # "" as Stasis() starts, SUCCESS/FAILED as it ends
            elif event["variable"] not in ASTERISK_OWN:
                set_in_stasis[event["variable"]] = event["value"]
        elif kind in ("ChannelHangupRequest", "ChannelDestroyed"):
            ended = True

    if stasis_status == "FAILED":
        outcome = Outcome.STASIS_FAILED
    elif destination is not None:
        outcome = Outcome.ARRIVED
    else:
        outcome = Outcome.HUNG_UP if ended else Outcome.TIMEOUT
    return CallReport(
        call_id=caller,
        outcome=outcome,
        entered=entered,
        destination=destination,
        variables={name: set_in_stasis.pop(name, "") for name in REPORTED} | set_in_stasis,
        speech_ended=speech_ended,
        arrived=arrived,
    )


def checked_dtmf(keys: str) -> str:
    """`keys` if a caller can press them (0-9, *, #, A-D), else a CallError (USAGE)."""
    if not keys or not set(keys) <= DTMF_KEYS:
        raise CallError(f"{keys!r} is not DTMF: use the keys 0-9, *, # and A-D")
    return keys


async def place_test_call(
    target: CallTarget,
    *,
    flow: str | None = None,
    say: str | None = None,
    wav: Path | None = None,
    dtmf: str | None = None,
    voice: Voice = CALLER_VOICES["ko"],
    hold: float = 0.0,
    timeout: float = 60.0,
    endpoint: str | None = None,
    app: str = IVR_APP,
    delay: float = 1.0,
) -> CallReport:
    """Place one test call into the IVR and report what became of it.

    The caller answers, waits `delay` s, says `say` (in `voice`) or plays `wav`, then presses
    `dtmf`. The call goes to `endpoint`, by default the sandbox dialplan's way into `flow` (or
    into the default flow). It is watched until it leaves the IVR or `timeout` s pass, kept
    `hold` s more at its destination, then hung up. Raises CallError when it cannot be placed.
    """
    if endpoint is not None and not endpoint.startswith("Local/"):
        raise CallError(
            f"--endpoint {endpoint!r} is not a Local channel (Local/EXTEN@CONTEXT): the IVR is "
            "watched on its ;2 leg"
        )
    if flow is not None and endpoint is None and not FLOW_NAME.fullmatch(flow):
        raise CallError(f"bad flow name {flow!r}: letters, digits and '-', two or more")
    keys = checked_dtmf(dtmf) if dtmf is not None else None
    speech = await asyncio.to_thread(caller_audio, target.sounds_dir, say=say, wav=wav, voice=voice)
    try:
        async with CallLab(target) as lab:
            try:
                await lab.wait_for_app(app, timeout=1.0)
            except TimeoutError:
                raise CallError(
                    f"no app {app!r} is connected to Asterisk: start `{_run_hint(target)}`",
                    Exit.UNAVAILABLE,
                ) from None
            try:
                # The caller holds the line longer than it is watched: we hang up, not the caller.
                call = await lab.call(
                    speech=speech,
                    flow=flow,
                    endpoint=endpoint,
                    dtmf=keys,
                    delay=delay,
                    hold=delay + timeout + hold + 30,
                )
            except aiohttp.ClientResponseError as error:
                raise CallError(
                    f"Asterisk did not place the call to {endpoint or flow or 'the default flow'}:"
                    f" HTTP {error.status} {error.message}",
                    Exit.UNAVAILABLE,
                ) from None
            return await _watch(call, app=app, hold=hold, timeout=timeout)
    except (aiohttp.ClientError, OSError) as error:  # OSError: TimeoutError too
        raise _unreachable(error, target.ari_url) from None


async def _watch(call: PlacedCall, *, app: str, hold: float, timeout: float) -> CallReport:
    """Wait until the call leaves the IVR (or `timeout` s pass), then `hold` s more while it
    stays at its destination; report what the observer saw."""

    def report() -> CallReport:
        return read_report(call.events, caller=call.id, ivr_leg=call.other_id, app=app)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while report().outcome is Outcome.TIMEOUT and loop.time() < deadline:
        await asyncio.sleep(POLL_INTERVAL)
    if report().outcome is Outcome.ARRIVED and hold > 0:
        with contextlib.suppress(TimeoutError):
            await call.gone(timeout=hold)
    return report()  # read again: the caller's speech may end after the arrival


def caller_audio(
    sounds_dir: Path, *, say: str | None, wav: Path | None, voice: Voice
) -> str | None:
    """The media name of what the caller says, put under `sounds_dir/calls/`; None: nothing."""
    if say is not None and wav is not None:
        raise CallError("give --say or --wav, not both")
    if say is not None:
        if not say.strip():
            raise CallError("--say needs words")
        _require_tools("espeak-ng", "sox")
        try:
            return synthesize(
                say, sounds_dir, voice=voice.name, speed=voice.speed, subdir=CALLS_SUBDIR, wide=True
            )
        except SandboxError as error:
            raise CallError(f"cannot say {say!r} with voice {voice.name!r}: {error}") from None
    if wav is not None:
        return converted_audio(wav, sounds_dir)
    return None


def converted_audio(path: Path, sounds_dir: Path) -> str:
    """`path` (any audio file sox reads) converted to the `.sln16` a test caller plays, named by
    its content, as is: no trimming, so the IVR hears what `simulate --wav` hears (the time
    after the speech then counts from the end of the file)."""
    _require_tools("sox")
    try:
        key = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    except OSError as error:
        raise CallError(f"cannot read {path}: {error.strerror}") from None
    target = sounds_dir / CALLS_SUBDIR / f"{key}.sln16"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as scratch:
            converted = Path(scratch) / target.name
            result = subprocess.run(
                ["sox", "-D", str(path.absolute()), *SLN16, str(converted)],
                check=False,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                cause = (result.stderr.strip().splitlines() or ["?"])[-1]
                raise CallError(f"sox cannot read {path} as audio: {cause}")
            if converted.stat().st_size == 0:
                raise CallError(f"{path} holds no audio")
            os.replace(converted, target)  # atomic: Asterisk never plays half a file
    return f"{sounds_dir.name}/{CALLS_SUBDIR}/{key}"


def caller_voice(flow: str | None, voice: str | None, flows_dirs: Sequence[Path]) -> Voice:
    """The caller's voice: `voice` if given, else that of the flow's language (Korean for the
    default flow). The language is read from the flow's file in `flows_dirs`."""
    language = "ko" if flow is None else flow_language(flow, flows_dirs)
    if voice is not None:
        known = CALLER_VOICES.get(language or "")
        return Voice(voice, known.speed if known else OTHER_SPEED)
    if language is None:
        dirs = ", ".join(str(directory) for directory in flows_dirs)
        raise CallError(
            f"no flow {flow!r} in {dirs} to take the caller's language from: give --voice"
        )
    if language not in CALLER_VOICES:
        raise CallError(f"no caller voice for the flow's language {language!r}: give --voice")
    return CALLER_VOICES[language]


def flow_language(name: str, flows_dirs: Sequence[Path]) -> str | None:
    """The language of the flow called `name` in the first of `flows_dirs` that has it."""
    for directory in flows_dirs:
        if not directory.is_dir():
            continue
        for path in yaml_files(directory):
            try:
                flow = load_flow(path)
            except FlowLoadError:
                continue  # `speech-ivr check` reports it; here it just is not the one
            if flow.name == name:
                return flow.language
    return None


def resolve_target(
    *,
    sandbox: str | None,
    ari_url: str | None,
    ari_user: str | None,
    ari_password_file: Path | None,
    sounds: Path | None,
    config: Path | None = None,
) -> CallTarget:
    """A running sandbox (`default` unless named), or the Asterisk at `ari_url`, with the user
    and password of the settings (`--ari-password-file`, $SPEECH_IVR_ARI_PASSWORD, the
    config file; never a command-line argument, which `ps` shows to every user)."""
    if ari_url is None:
        others = {
            "--ari-user": ari_user,
            "--ari-password-file": ari_password_file,
            "--sounds": sounds,
        }
        if given := [option for option, value in others.items() if value is not None]:
            raise CallError(f"{', '.join(given)} go with --ari-url, not with a sandbox")
        return running_sandbox(sandbox or "default")
    if sandbox is not None:
        raise CallError("give --sandbox or --ari-url, not both")
    sounds_root = sounds or DEBIAN_SOUNDS
    if not sounds_root.is_dir():
        raise CallError(
            f"no directory {sounds_root}: give --sounds DIR, Asterisk's sounds directory"
        )
    flags = {"ari_url": ari_url, "ari_user": ari_user, "ari_password_file": ari_password_file}
    try:
        settings = load_settings(config, **{k: v for k, v in flags.items() if v is not None})
    except SettingsError as error:
        raise CallError(f"bad settings: {error}") from None
    if not settings.ari_password.get_secret_value():
        raise CallError(
            "no ARI password: set $SPEECH_IVR_ARI_PASSWORD, ari_password_file in config.toml, "
            "or give --ari-password-file FILE"
        )
    return AriTarget(
        ari_url=settings.ari_url,
        ari_user=settings.ari_user,
        ari_password=settings.ari_password,
        sounds_dir=sounds_root / SOUNDS_SUBDIR,
    )


def running_sandbox(name: str) -> SandboxInfo:
    try:
        info = Sandbox(name).status()
    except SandboxError as error:
        raise CallError(str(error)) from None
    except OSError as error:
        raise CallError(
            f"cannot read sandbox {name!r}'s state: {error.strerror} (run as root)",
            Exit.UNAVAILABLE,
        ) from None
    if info is None:
        up = "speech-ivr sandbox up" + ("" if name == "default" else f" --name {name}")
        raise CallError(f"sandbox {name!r} is not running: {up}", Exit.UNAVAILABLE)
    return info


def call_command(
    *,
    flow: str | None = None,
    say: str | None = None,
    wav: Path | None = None,
    dtmf: str | None = None,
    voice: str | None = None,
    sandbox: str | None = None,
    ari_url: str | None = None,
    ari_user: str | None = None,
    ari_password_file: Path | None = None,
    sounds: Path | None = None,
    endpoint: str | None = None,
    hold: float = 0.0,
    timeout: float = 60.0,
    as_json: bool = False,
    flows_dir: Path | None = None,
    config: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`speech-ivr call`: place one test call, print where Asterisk sent it; an `Exit` status.

    `flows_dir` (default `./flows`, then the shipped examples) is where the flow's language is
    looked up, for the voice of `say`.
    """
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if say is None and wav is None and dtmf is None:
            raise CallError("nothing to say: give --say TEXT, --wav FILE or --dtmf KEYS")
        if dtmf is not None:
            checked_dtmf(dtmf)
        if hold < 0 or timeout <= 0:
            raise CallError("--hold must be 0 or more seconds, --timeout more than 0")
        target = resolve_target(
            sandbox=sandbox,
            ari_url=ari_url,
            ari_user=ari_user,
            ari_password_file=ari_password_file,
            sounds=sounds,
            config=config,
        )
        speaker = CALLER_VOICES["ko"]
        if say is not None:
            speaker = caller_voice(
                flow, voice, [flows_dir or Path("flows"), EXAMPLES_DIR / "flows"]
            )
        report = asyncio.run(
            place_test_call(
                target,
                flow=flow,
                say=say,
                wav=wav,
                dtmf=dtmf,
                voice=speaker,
                hold=hold,
                timeout=timeout,
                endpoint=endpoint,
            )
        )
    except CallError as error:
        print(f"speech-ivr call: {error}", file=err)
        return error.code
    failure = _failure(report, target, timeout)
    if as_json:
        document = report.as_json() | {"error": failure[0] if failure else None}
        print(json.dumps(document, ensure_ascii=False, indent=2), file=out)
    elif failure is None:
        print(report.text(), file=out)
    if failure is not None:
        print(f"speech-ivr call: {failure[0]}", file=err)
        return failure[1]
    return Exit.OK


def _failure(report: CallReport, target: CallTarget, timeout: float) -> tuple[str, Exit] | None:
    """Why the call did not arrive anywhere, with its exit status; None when it did."""
    log = f" (Asterisk log: {target.log_file})" if target.log_file is not None else ""
    if report.outcome is Outcome.ARRIVED:
        return None
    if report.outcome is Outcome.STASIS_FAILED:
        message = f"no app {IVR_APP!r} is connected to Asterisk: start `{_run_hint(target)}`"
        return message, Exit.UNAVAILABLE
    if report.outcome is Outcome.HUNG_UP:
        if not report.entered:
            return f"the call ended before it reached Stasis({IVR_APP}){log}", Exit.PROBLEMS
        hint = ""
        if report.speech_ended is None:  # the caller context did not run to its CallerSpeechEnd
            hint = "; the caller never finished speaking: has this Asterisk the `caller` context?"
        return f"the call was hung up in the IVR before it went anywhere{hint}{log}", Exit.PROBLEMS
    if not report.entered:
        return f"the call did not reach Stasis({IVR_APP}) within {timeout:g} s{log}", Exit.PROBLEMS
    return f"the call did not leave the IVR within {timeout:g} s{log}", Exit.PROBLEMS


def _run_hint(target: CallTarget) -> str:
    if isinstance(target, SandboxInfo):
        return "speech-ivr run --sandbox" + ("" if target.name == "default" else f" {target.name}")
    return "speech-ivr run"


def _unreachable(error: BaseException, url: str) -> CallError:
    """The one line for an ARI that could not be reached or refused us."""
    if isinstance(error, aiohttp.ClientResponseError):
        if error.status == 401:
            message = f"ARI at {url} refused the user and password (HTTP 401)"
        else:
            message = (
                f"ARI at {url} answered HTTP {error.status} {error.message}: is it Asterisk's "
                "HTTP server, with ARI enabled?"
            )
    elif isinstance(error, TimeoutError):
        message = f"ARI at {url} did not answer in time"
    else:
        message = f"cannot reach Asterisk's ARI at {url}: {error}"
    return CallError(message, Exit.UNAVAILABLE)


def _require_tools(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            raise CallError(
                f"{tool} is not installed: apt-get install espeak-ng sox", Exit.UNAVAILABLE
            )

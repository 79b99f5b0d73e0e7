"""Real SIP callers for the sandbox: SIPp calls the PJSIP endpoint `caller` (pjsip.conf).

A SIP caller is what production sees: a PJSIP channel with G.711 mu-law RTP and RFC 4733
DTMF, no Local channel pair. This module has the parts of one, and how to watch it:

- the caller's media: `rtp_stream` turns PCM (8 or 16 kHz, from `Pcm.read` of a WAV or
  `.sln16` file as `synthesize` writes) and DTMF keys into one RTP stream, and `write_pcap`
  stores it as the pcap SIPp's `play_pcap_audio` replays (`caller_pcap` does both);
- the SIPp scenario (`scenario_xml`): INVITE offering PCMU/8000 and telephone-event/8000,
  ACK, play the pcap, then either answer the BYE Asterisk sends when the dialplan ends the
  call or, after `hold` seconds, hang up itself;
- the runner (`sip_call`): one unattended `sipp` process with its own ports and hard
  timeouts, killed when the task is cancelled; `calls`, `rate` and `limit` make the same
  process place many calls (for a load benchmark);
- `sip_channel` finds the call's PJSIP channel in a `CallLab`'s events by the caller id the
  scenario sends (`CALLERID(num)`), as a `PlacedCall` (`arrival()`, `gone()`, `hangup()`);
  `SipCaller` runs a call and finds its channel in one `async with`, for tests.

SIPp sends the pcap from a raw socket: `sip_call` needs root, like the sandbox itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import secrets
import shutil
import socket
import struct
import tempfile
import threading
import time
import wave
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self
from xml.sax.saxutils import quoteattr

import numpy as np
import numpy.typing as npt

from .calls import CallLab, Event, PlacedCall
from .errors import SandboxError
from .ports import free_port, port_is_free

SAMPLE_RATE = 8000  # G.711
FRAME_SECONDS = 0.02  # 20 ms packets (ptime 20), as phones send
FRAME_SAMPLES = round(SAMPLE_RATE * FRAME_SECONDS)  # 160 samples = 160 mu-law bytes
PCMU = 0  # RTP payload type of G.711 mu-law (static)
TELEPHONE_EVENT = 101  # RTP payload type of RFC 4733 events, as the scenario's SDP offers it
DTMF_EVENTS = {key: code for code, key in enumerate("0123456789*#ABCD")}
"""RFC 4733 event codes of the DTMF keys (0-9, then * 10, # 11, A-D 12-15)."""
END_REPEATS = 3  # RFC 4733 2.5.1.4: the final packet of an event is sent three times
DTMF_VOLUME = 10  # -10 dBm0, a typical key press
PCAP_PORT = 6000  # SIPp rewrites the UDP ports to its media port and Asterisk's RTP port
SIPP = "sipp"
SIP_HOST = "127.0.0.1"
DEFAULT_EXTENSION = "ivr"  # [sip-in] of extensions.conf: the default flow
CALLER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
RECV_TIMEOUT = 15.0  # seconds SIPp waits for any expected answer (100, 200, the BYE's 200)
KILL_MARGIN = 10.0  # seconds after SIPp's own -timeout before the runner kills it


# --- audio ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pcm:
    """Mono 16-bit PCM at 8 or 16 kHz: what a caller says."""

    samples: npt.NDArray[np.int16]
    rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        if self.rate not in (8000, 16000):
            raise ValueError(f"PCM at {self.rate} Hz: give 8 or 16 kHz")

    @classmethod
    def read(cls, path: Path) -> Pcm:
        """A WAV file (mono, 16-bit, 8 or 16 kHz), a raw `.sln16` (16 kHz) or `.sln` (8 kHz)."""
        if path.suffix in (".sln16", ".sln"):
            rate = 16000 if path.suffix == ".sln16" else 8000
            return cls(np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.int16), rate)
        with wave.open(str(path)) as audio:
            if audio.getnchannels() != 1 or audio.getsampwidth() != 2:
                raise ValueError(f"{path}: not mono 16-bit PCM")
            data = audio.readframes(audio.getnframes())
            return cls(np.frombuffer(data, dtype="<i2").astype(np.int16), audio.getframerate())

    @classmethod
    def silence(cls, seconds: float, rate: int = SAMPLE_RATE) -> Pcm:
        return cls(np.zeros(round(seconds * rate), dtype=np.int16), rate)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def narrowband(self) -> Pcm:
        """This audio at 8 kHz (16 kHz is low-passed below 4 kHz and decimated)."""
        if self.rate == SAMPLE_RATE:
            return self
        filtered = np.convolve(self.samples.astype(np.float64), _HALF_BAND, mode="same")
        return Pcm(_to_int16(filtered[::2]), SAMPLE_RATE)

    def __add__(self, other: Pcm) -> Pcm:
        """The two one after the other (at 8 kHz if their rates differ)."""
        if self.rate != other.rate:
            return self.narrowband() + other.narrowband()
        return Pcm(np.concatenate([self.samples, other.samples]), self.rate)


def _half_band_filter(taps: int = 63, cutoff: float = 3700.0, rate: int = 16000) -> npt.NDArray:
    """A windowed-sinc low-pass (Blackman) for 16 -> 8 kHz: the band above 4 kHz would alias."""
    n = np.arange(taps) - (taps - 1) / 2
    normalized = cutoff / rate
    kernel = 2 * normalized * np.sinc(2 * normalized * n) * np.blackman(taps)
    return kernel / kernel.sum()


_HALF_BAND = _half_band_filter()


def _to_int16(samples: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def _ulaw_table() -> npt.NDArray[np.uint8]:
    """The mu-law byte of every 16-bit sample (index: sample + 32768), as G.711 and Asterisk's
    `ulaw.c` encode: sign and magnitude, magnitude clipped to 32635 and biased by 0x84, a 3-bit
    exponent (the segment) and the 4 bits after the leading one, all bits inverted."""
    linear = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(linear < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(linear), 32635) + 0x84
    segment = np.array([max(n.bit_length() - 1, 0) for n in range(256)], dtype=np.int32)
    exponent = segment[magnitude >> 7]  # the position of the leading one above bit 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


_ULAW = _ulaw_table()


def ulaw_encode(samples: npt.NDArray[np.int16]) -> bytes:
    """G.711 mu-law bytes of 16-bit samples (one byte per sample)."""
    return _ULAW[samples.astype(np.int32) + 32768].tobytes()


# --- RTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DtmfKeys:
    """Keys a caller presses, as RFC 4733 events in the audio's RTP stream.

    `at` is when the first key goes down, in seconds from the start of the stream (rounded to
    the 20 ms packets); None: right after the audio (and any earlier keys). A phone sends
    events instead of audio while a key is down: events replace the audio they overlap.
    """

    keys: str
    at: float | None = None
    duration: float = 0.1  # seconds each key is held down
    gap: float = 0.1  # seconds between a key's release and the next key (at least 40 ms)

    def __post_init__(self) -> None:
        if not self.keys or not set(self.keys) <= DTMF_EVENTS.keys():
            raise ValueError(f"{self.keys!r} is not DTMF: use the keys 0-9, *, # and A-D")
        if self.duration <= 0 or self.gap < 0 or (self.at is not None and self.at < 0):
            raise ValueError("DTMF needs a positive duration and no negative time")


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet of the caller's stream, `at` seconds after the first."""

    at: float
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes

    def to_bytes(self) -> bytes:
        """RTP version 2, no padding, no extension, no CSRC: the 12-byte header, the payload."""
        second = (0x80 if self.marker else 0) | self.payload_type
        header = struct.pack("!BBHII", 0x80, second, self.sequence, self.timestamp, self.ssrc)
        return header + self.payload


def telephone_event(key: str, *, end: bool, duration: int, volume: int = DTMF_VOLUME) -> bytes:
    """The 4-byte RFC 4733 payload: event code, E bit, volume, duration in timestamp units."""
    return struct.pack("!BBH", DTMF_EVENTS[key], (0x80 if end else 0) | volume, duration)


def rtp_stream(
    audio: Pcm | None,
    dtmf: Iterable[DtmfKeys] = (),
    *,
    ssrc: int | None = None,
    first_sequence: int | None = None,
    first_timestamp: int | None = None,
    tail: float = 0.0,
) -> list[RtpPacket]:
    """The caller's RTP stream: `audio` as PCMU in 20 ms packets, `dtmf` as RFC 4733 events in
    the same stream (same SSRC, one sequence, one sampling clock), silence where neither is,
    and `tail` s more of silence at the end (a phone keeps sending while the caller listens).

    Each packet takes a 20 ms slot. A key held for N slots sends N event packets, all with the
    timestamp of its first slot (which has the marker bit) and a growing duration, the last one
    with the E bit, which is sent twice more in the next slots. The first packet of the stream
    has the marker bit too. Random SSRC, first sequence number and timestamp unless given.
    """
    frames = _ulaw_frames(audio.narrowband()) if audio is not None else []
    events = _event_slots(dtmf, len(frames))
    slots = max([len(frames), *(slot + 1 for slot in events)]) + round(tail / FRAME_SECONDS)
    ssrc = secrets.randbits(32) if ssrc is None else ssrc
    sequence = secrets.randbits(16) if first_sequence is None else first_sequence
    timestamp = secrets.randbits(32) if first_timestamp is None else first_timestamp
    packets = []
    for slot in range(slots):
        if slot in events:
            started, payload, first = events[slot]
            payload_type, marker, clock = TELEPHONE_EVENT, first, started
        else:
            payload = frames[slot] if slot < len(frames) else _SILENT_FRAME
            payload_type, marker, clock = PCMU, False, slot
        packets.append(
            RtpPacket(
                at=round(slot * FRAME_SECONDS, 6),
                payload_type=payload_type,
                marker=marker or slot == 0,
                sequence=(sequence + slot) & 0xFFFF,
                timestamp=(timestamp + clock * FRAME_SAMPLES) & 0xFFFFFFFF,
                ssrc=ssrc,
                payload=payload,
            )
        )
    return packets


_SILENT_FRAME = ulaw_encode(np.zeros(FRAME_SAMPLES, dtype=np.int16))


def _ulaw_frames(audio: Pcm) -> list[bytes]:
    """20 ms mu-law payloads of 8 kHz audio, the last one padded with silence."""
    count = math.ceil(len(audio.samples) / FRAME_SAMPLES)
    padded = np.zeros(count * FRAME_SAMPLES, dtype=np.int16)
    padded[: len(audio.samples)] = audio.samples
    encoded = ulaw_encode(padded)
    return [encoded[i : i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]


def _event_slots(dtmf: Iterable[DtmfKeys], audio_slots: int) -> dict[int, tuple[int, bytes, bool]]:
    """Slot -> (the event's first slot, its RFC 4733 payload, whether it is the event's first)."""
    slots: dict[int, tuple[int, bytes, bool]] = {}
    cursor = audio_slots
    for press in dtmf:
        start = cursor if press.at is None else round(press.at / FRAME_SECONDS)
        held = max(1, round(press.duration / FRAME_SECONDS))
        spacing = max(END_REPEATS - 1, round(press.gap / FRAME_SECONDS))
        for key in press.keys:
            for index in range(held + END_REPEATS - 1):
                slot = start + index
                if slot in slots:
                    raise ValueError(f"DTMF {press.keys!r} overlaps earlier keys")
                down = min(index + 1, held) * FRAME_SAMPLES
                payload = telephone_event(key, end=index >= held - 1, duration=down)
                slots[slot] = (start, payload, index == 0)
            start += held + spacing
        cursor = max(cursor, start - spacing + END_REPEATS - 1)
    return slots


# --- pcap -----------------------------------------------------------------------------------

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # microseconds, Ethernet
LOOPBACK = socket.inet_aton(SIP_HOST)


def pcap_bytes(packets: Sequence[RtpPacket], *, start: float = 0.0) -> bytes:
    """A classic pcap (microsecond timestamps, link type Ethernet) of the packets as UDP on
    IPv4, as SIPp's `play_pcap_audio` reads it: every packet whole (caplen = len), the UDP
    length right (SIPp copies that many bytes from the UDP header on), one destination port.

    SIPp keeps only the UDP datagrams and the time between packets: it sends each one from its
    media port to the port in Asterisk's SDP answer, so addresses and ports here are
    placeholders and the UDP checksum is left 0 (SIPp computes it).
    """
    records = [PCAP_HEADER]
    for number, packet in enumerate(packets):
        frame = _ethernet_frame(packet.to_bytes(), ident=number)
        microseconds = round((start + packet.at) * 1_000_000)
        seconds, micros = divmod(microseconds, 1_000_000)
        records.append(struct.pack("<IIII", seconds, micros, len(frame), len(frame)))
        records.append(frame)
    return b"".join(records)


def _ethernet_frame(udp_payload: bytes, *, ident: int) -> bytes:
    udp_length = 8 + len(udp_payload)
    udp = struct.pack("!HHHH", PCAP_PORT, PCAP_PORT, udp_length, 0) + udp_payload
    ip = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,  # IPv4, 5 x 32-bit header words
            0,
            20 + udp_length,
            ident & 0xFFFF,
            0x4000,  # don't fragment
            64,
            socket.IPPROTO_UDP,
            0,
            LOOPBACK,
            LOOPBACK,
        )
    )
    ip[10:12] = struct.pack("!H", _internet_checksum(bytes(ip)))
    ethernet = bytes(12) + struct.pack("!H", 0x0800)  # zero MAC addresses, IPv4
    return ethernet + bytes(ip) + udp


def _internet_checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_pcap(path: Path, packets: Sequence[RtpPacket]) -> Path:
    path.write_bytes(pcap_bytes(packets))
    return path


@dataclass(frozen=True)
class CallerMedia:
    """A pcap a SIP caller plays, and how long it lasts."""

    path: Path
    seconds: float
    packets: int


def caller_pcap(
    path: Path,
    audio: Pcm | Path | None = None,
    *,
    dtmf: Sequence[DtmfKeys] | str = (),
    lead: float = 0.0,
    tail: float = 0.0,
) -> CallerMedia:
    """Write what a SIP caller sends after the answer: `lead` s of silence, `audio` (a `Pcm` or
    a sound file), `dtmf` (`DtmfKeys`, or keys pressed right after the audio), `tail` s of
    silence (a phone keeps sending RTP while the caller listens)."""
    speech = Pcm.read(audio) if isinstance(audio, Path) else audio
    stream = Pcm.silence(lead) + speech if speech is not None else Pcm.silence(lead)
    presses = [DtmfKeys(dtmf)] if isinstance(dtmf, str) else list(dtmf)
    packets = rtp_stream(stream, presses, tail=tail)
    write_pcap(path, packets)
    return CallerMedia(path, len(packets) * FRAME_SECONDS, len(packets))


# --- the SIPp scenario ----------------------------------------------------------------------


def scenario_xml(pcap: Path, *, caller: str, hold: float) -> str:
    """The SIPp scenario of one caller: INVITE (PCMU/8000 and telephone-event/8000 on 101),
    optional 100/180/183, 200, ACK, `play_pcap_audio` of `pcap`, then whichever comes first:
    Asterisk's BYE (the dialplan ended the call: answered 200) or `hold` seconds (the caller
    hangs up: BYE, 200). The From user, which PJSIP gives the channel as CALLERID(num), is
    `caller-N` for the Nth call of the process (`caller_number`).

    ACK and BYE carry the To tag of the 200 (PJSIP silently drops them without it). The media
    port is `[auto_media_port]`: SIPp's `-mp` for its first call, 4 more for each next one.
    """
    if not CALLER_PATTERN.fullmatch(caller):
        raise ValueError(f"bad caller {caller!r}: letters, digits and '-'")
    user = f"{caller}-[call_number]"
    local = "[local_ip]:[local_port]"
    remote = "sip:[service]@[remote_ip]:[remote_port]"
    dialog = (
        f"From: <sip:{user}@{local}>;tag=[pid]-[call_number]\n"
        f"To: <{remote}>[peer_tag_param]\n"
        "Call-ID: [call_id]\n"
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by ivr.sandbox.sip_caller: a speech-ivr test caller. -->
<scenario name="speech-ivr SIP caller">
  <send retrans="500">
    <![CDATA[
INVITE {remote} SIP/2.0
Via: SIP/2.0/[transport] {local};branch=[branch]
From: <sip:{user}@{local}>;tag=[pid]-[call_number]
To: <{remote}>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{user}@{local}>
Max-Forwards: 70
User-Agent: speech-ivr-sip-caller
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- [pid][call_number] 1 IN IP[local_ip_type] [local_ip]
s=speech-ivr caller
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [auto_media_port] RTP/AVP {PCMU} {TELEPHONE_EVENT}
a=rtpmap:{PCMU} PCMU/{SAMPLE_RATE}
a=rtpmap:{TELEPHONE_EVENT} telephone-event/{SAMPLE_RATE}
a=fmtp:{TELEPHONE_EVENT} 0-16
a=ptime:{round(FRAME_SECONDS * 1000)}
a=sendrecv
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200"/>
  <send>
    <![CDATA[
ACK {remote} SIP/2.0
Via: SIP/2.0/[transport] {local};branch=[branch]
{dialog}CSeq: 1 ACK
Contact: <sip:{user}@{local}>
Max-Forwards: 70
Content-Length: 0
    ]]>
  </send>
  <nop>
    <action>
      <exec play_pcap_audio={quoteattr(str(pcap))}/>
    </action>
  </nop>
  <recv request="BYE" timeout="{round(hold * 1000)}" ontimeout="caller-hangs-up"/>
  <send next="done">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:{user}@{local}>
Content-Length: 0
    ]]>
  </send>
  <label id="caller-hangs-up"/>
  <send retrans="500">
    <![CDATA[
BYE {remote} SIP/2.0
Via: SIP/2.0/[transport] {local};branch=[branch]
{dialog}CSeq: 2 BYE
Contact: <sip:{user}@{local}>
Max-Forwards: 70
Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <label id="done"/>
</scenario>
"""


def caller_number(caller: str, call: int = 1) -> str:
    """The caller id (From user, CALLERID(num)) of the `call`th call of a `sip_call`."""
    return f"{caller}-{call}"


def new_caller() -> str:
    """A fresh caller name, unique enough to find its calls among all of Asterisk's events."""
    return f"sip-{secrets.token_hex(5)}"


# --- running SIPp ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SipMessage:
    """A SIP message SIPp sent or received (its `-trace_shortmsg` log)."""

    at: float  # epoch seconds
    sent: bool
    call_id: str
    cseq: str  # "1 INVITE"
    first_line: str  # "INVITE sip:... SIP/2.0" or "SIP/2.0 200 OK"

    @property
    def what(self) -> str:
        """The method of a request, the status code of a response ("INVITE", "200")."""
        words = self.first_line.split()
        return words[1] if self.first_line.startswith("SIP/2.0") else words[0]

    def __str__(self) -> str:
        arrow = "->" if self.sent else "<-"
        return f"{self.at:.3f} {arrow} {self.first_line} ({self.cseq})"


@dataclass(frozen=True)
class SipCallResult:
    """What one `sip_call` did: SIPp's exit status (0: every call ended as the scenario says),
    the SIP messages it logged, its error log (`-trace_err`: unexpected messages, timeouts,
    also the expected one of a caller who hangs up after `hold`) and its stderr."""

    caller: str
    returncode: int
    seconds: float
    messages: tuple[SipMessage, ...] = ()
    errors: str = ""
    output: str = ""
    killed: bool = False  # the runner killed SIPp (its deadline passed)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.killed

    def exchanged(self, *, sent: bool) -> list[str]:
        """The methods and status codes sent (or received), in order: ["INVITE", "ACK", ...]."""
        return [message.what for message in self.messages if message.sent is sent]

    def summary(self) -> str:
        """Several lines for an assertion message."""
        status = "was killed" if self.killed else f"exited {self.returncode}"
        lines = [
            f"sipp {status} after {self.seconds:.1f} s; caller {self.caller}",
            *(f"  {message}" for message in self.messages),
        ]
        if self.errors.strip():
            lines.append(f"sipp's error log:\n{self.errors.strip()[-2000:]}")
        if self.output.strip():
            lines.append(f"sipp's stderr:\n{self.output.strip()[-2000:]}")
        return "\n".join(lines)


class SipCallError(SandboxError):
    """SIPp is missing or could not be started."""


async def sip_call(
    port: int,
    pcap: Path,
    *,
    extension: str = DEFAULT_EXTENSION,
    caller: str | None = None,
    hold: float = 30.0,
    timeout: float | None = None,
    host: str = SIP_HOST,
    calls: int = 1,
    rate: float = 10.0,
    limit: int | None = None,
    log_dir: Path | None = None,
) -> SipCallResult:
    """Call `sip:extension@host:port` with SIPp and play `pcap`; return when SIPp is done.

    `extension` picks the flow in the sandbox's [sip-in] (`ivr`: the default flow). `caller`
    (default: `new_caller()`) names the From user: the Nth call's CALLERID(num) is
    `caller_number(caller, N)`. Each call holds at most `hold` s after the answer before it
    hangs up, if Asterisk has not hung up first. SIPp gives up after `timeout` s (default: the
    hold and 30 s more), and every expected answer has RECV_TIMEOUT s; the process is killed
    10 s after that, or at once when the task is cancelled (the call then stays up in Asterisk
    until someone hangs it up: `CallLab` does for a `sip_channel`).

    `calls` > 1 makes the same process place that many calls, `rate` per second, at most
    `limit` at once, all playing `pcap`. SIPp's logs go to `log_dir` (kept) or a temporary
    directory (deleted). Needs root: `play_pcap_audio` sends from a raw socket.
    """
    executable = shutil.which(SIPP)
    if executable is None:
        raise SipCallError("sipp is not installed: apt-get install sip-tester")
    caller = caller or new_caller()
    if timeout is None:
        timeout = hold + calls / rate + 30.0
    with _work_dir(log_dir) as work, _reserved_ports() as (sip_port, media_port):
        (work / "scenario.xml").write_text(scenario_xml(pcap.absolute(), caller=caller, hold=hold))
        command = sipp_command(
            executable,
            f"{host}:{port}",
            work=work,
            extension=extension,
            caller=caller,
            sip_port=sip_port,
            media_port=media_port,
            calls=calls,
            rate=rate,
            limit=limit,
            timeout=timeout,
        )
        started = time.monotonic()
        with (work / "stderr.log").open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,  # its statistics screen; -trace_screen has it
                stderr=stderr,
                cwd=work,
                start_new_session=True,
            )
        killed = False
        try:
            try:
                async with asyncio.timeout(timeout + KILL_MARGIN):
                    await process.wait()
            except TimeoutError:
                killed = True
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        return SipCallResult(
            caller=caller,
            returncode=process.returncode if process.returncode is not None else -9,
            seconds=time.monotonic() - started,
            messages=tuple(read_short_messages(work / "messages.tsv")),
            errors=_read(work / "errors.log"),
            output=_read(work / "stderr.log"),
            killed=killed,
        )


def sipp_command(
    executable: str,
    target: str,
    *,
    work: Path,
    extension: str,
    caller: str,
    sip_port: int,
    media_port: int,
    calls: int,
    rate: float,
    limit: int | None,
    timeout: float,
) -> list[str]:
    """The `sipp` command line of `sip_call`: `work/scenario.xml` to `target` (host:port),
    unattended, its logs in `work`, and hard limits: `-timeout` (the whole run, a failure with
    `-timeout_error`) and `-recv_timeout` (each expected answer)."""
    return [
        executable,
        target,
        "-sf", str(work / "scenario.xml"),
        "-s", extension,
        "-i", SIP_HOST,
        "-p", str(sip_port),
        "-mi", SIP_HOST,
        "-mp", str(media_port),
        "-cid_str", f"{caller}-%u@%s",
        "-m", str(calls),
        "-r", f"{rate:g}",
        *(["-l", str(limit)] if limit is not None else []),
        "-nostdin",
        "-aa",  # answer INFO, NOTIFY, OPTIONS and UPDATE with 200 OK
        "-timeout", f"{math.ceil(timeout)}s",
        "-timeout_error",
        "-recv_timeout", str(round(RECV_TIMEOUT * 1000)),
        "-trace_shortmsg", "-shortmessage_file", str(work / "messages.tsv"),
        "-trace_msg", "-message_file", str(work / "messages.log"),
        "-trace_err", "-error_file", str(work / "errors.log"),
        "-trace_screen", "-screen_file", str(work / "screen.log"),
    ]  # fmt: skip


def read_short_messages(path: Path) -> list[SipMessage]:
    """SIPp's `-trace_shortmsg` lines: date, time, epoch, S|R, Call-ID, `CSeq:...`, first line."""
    messages = []
    for line in _read(path).splitlines():
        fields = line.split("\t")
        if len(fields) < 7 or fields[3] not in ("S", "R"):
            continue
        messages.append(
            SipMessage(
                at=float(fields[2]),
                sent=fields[3] == "S",
                call_id=fields[4],
                cseq=fields[5].removeprefix("CSeq:").strip(),
                first_line=fields[6].strip(),
            )
        )
    return messages


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


@contextlib.contextmanager
def _work_dir(log_dir: Path | None) -> Iterator[Path]:
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        yield log_dir
        return
    work = Path(tempfile.mkdtemp(prefix="speech-ivr-sipp-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


# Ports handed to SIPp processes of this Python process that still run: two concurrent calls
# must not get the same ones between the probe and SIPp's bind.
_ports_in_use: set[int] = set()
_ports_lock = threading.Lock()


@contextlib.contextmanager
def _reserved_ports() -> Iterator[tuple[int, int]]:
    """A free UDP port for SIPp's SIP (`-p`) and an even one for its media (`-mp`), with the
    one 2 above it free too (SIPp binds both, audio and video)."""
    with _ports_lock:
        for _ in range(200):
            sip, media = free_port(udp=True), free_port(udp=True) & ~1
            ports = {sip, media, media + 2}
            if len(ports) == 3 and not ports & _ports_in_use and all(port_is_free(port, udp=True) for port in ports):
                _ports_in_use.update(ports)
                break
        else:
            raise SipCallError("no free UDP ports for SIPp on 127.0.0.1")
    try:
        yield sip, media
    finally:
        with _ports_lock:
            _ports_in_use.difference_update(ports)


# --- watching a SIP call --------------------------------------------------------------------


async def sip_channel(lab: CallLab, caller: str, timeout: float = 15.0) -> PlacedCall:
    """The PJSIP channel of the SIP call whose caller id (From user) is `caller` (see
    `caller_number`), as a call the lab watches: `arrival()`, `gone()`, `hangup()`, and the
    lab hangs it up when it closes. Both ids of the `PlacedCall` are that channel: a SIP call
    has no Local pair, the channel that enters Stasis is the caller's."""

    def is_it(event: Event) -> bool:
        channel = event.get("channel")
        return (
            isinstance(channel, dict)
            and str(channel.get("name", "")).startswith("PJSIP/")
            and (channel.get("caller") or {}).get("number") == caller
        )

    try:
        event = await lab.wait_for(is_it, timeout)
    except TimeoutError:
        log_file = lab.info.log_file
        where = f" (Asterisk log: {log_file})" if log_file is not None else ""
        raise TimeoutError(f"no PJSIP channel from {caller!r} within {timeout} s{where}") from None
    channel_id = event["channel"]["id"]
    call = PlacedCall(lab, channel_id, channel_id)
    lab.placed.append(call)
    return call


@dataclass
class SipCaller:
    """One SIP caller in a test: `async with SipCaller(lab, port, pcap, ...) as caller:` starts
    `sip_call` and finds its channel (`caller.call`); leaving the block waits for SIPp to end
    (`caller.result`), or kills it when the block fails."""

    lab: CallLab
    port: int
    pcap: Path
    extension: str = DEFAULT_EXTENSION
    hold: float = 30.0
    name: str = field(default_factory=new_caller)
    call: PlacedCall = field(init=False)
    result: SipCallResult | None = field(default=None, init=False)
    _task: asyncio.Task[SipCallResult] | None = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(
            sip_call(
                self.port, self.pcap, extension=self.extension, caller=self.name, hold=self.hold
            )
        )
        found = asyncio.create_task(sip_channel(self.lab, caller_number(self.name)))
        try:
            done, _ = await asyncio.wait({self._task, found}, return_when=asyncio.FIRST_COMPLETED)
            if found not in done:  # SIPp ended before Asterisk had a channel for it
                result = await self._task
                raise SipCallError(f"the SIP call never reached Asterisk:\n{result.summary()}")
            self.call = found.result()
        except BaseException:
            found.cancel()
            self._task.cancel()
            await asyncio.gather(found, self._task, return_exceptions=True)
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        assert self._task is not None
        if exc_type is not None:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            self.result = await self._task

    async def ended(self) -> SipCallResult:
        """Wait until SIPp is done with the call."""
        assert self._task is not None
        self.result = await self._task
        return self.result


__all__ = [
    "CallerMedia",
    "DtmfKeys",
    "Pcm",
    "RtpPacket",
    "SipCallError",
    "SipCallResult",
    "SipCaller",
    "SipMessage",
    "caller_number",
    "caller_pcap",
    "new_caller",
    "pcap_bytes",
    "rtp_stream",
    "scenario_xml",
    "sip_call",
    "sip_channel",
    "sipp_command",
    "ulaw_encode",
    "write_pcap",
]

"""ivr.sandbox.sip_caller: the caller's RTP and pcap, the SIPp scenario and command, the
runner (with a stand-in for sipp), and the sandbox's SIP configuration."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import struct
import warnings
import wave
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from ivr.sandbox import sip_caller
from ivr.sandbox.config import InstanceLayout, render_pjsip_conf, write_configs
from ivr.sandbox.instance import _State
from ivr.sandbox.sip_caller import (
    FRAME_SAMPLES,
    DtmfKeys,
    Pcm,
    RtpPacket,
    caller_number,
    caller_pcap,
    pcap_bytes,
    read_short_messages,
    rtp_stream,
    scenario_xml,
    sip_call,
    sipp_command,
    ulaw_encode,
)

# --- G.711 mu-law ---------------------------------------------------------------------------


def ulaw_decode(code: int) -> int:
    """G.711's mu-law decoder, the reference the encoder is checked against."""
    code = ~code & 0xFF
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if code & 0x80 else magnitude


def ulaw(*samples: int) -> list[int]:
    return list(ulaw_encode(np.array(samples, dtype=np.int16)))


def test_ulaw_known_values() -> None:
    # Silence, the smallest steps, a mid value, the largest values (clipped), both signs.
    assert ulaw(0, 1, 8, 1000, 32635, 32767) == [0xFF, 0xFF, 0xFE, 0xCE, 0x80, 0x80]
    assert ulaw(-1, -8, -1000, -32635, -32768) == [0x7F, 0x7E, 0x4E, 0x00, 0x00]


def test_ulaw_decodes_back_to_each_code() -> None:
    codes = [code for code in range(256) if code != 0x7F]  # 0x7F is -0: it encodes as +0 (0xFF)
    decoded = np.array([ulaw_decode(code) for code in codes], dtype=np.int16)
    assert list(ulaw_encode(decoded)) == codes


def test_ulaw_is_within_half_a_step_and_symmetric() -> None:
    samples = np.arange(-32635, 32636, dtype=np.int16)
    codes = ulaw_encode(samples)
    decoded = np.array([ulaw_decode(code) for code in range(256)])[np.frombuffer(codes, np.uint8)]
    segment = np.maximum(np.floor(np.log2(np.abs(samples.astype(int)) + 0x84)) - 7, 0)
    step = 2 ** (segment + 3)
    assert np.all(np.abs(decoded - samples) <= step / 2 + 1)
    positive = np.frombuffer(ulaw_encode(np.arange(1, 32768, dtype=np.int16)), np.uint8)
    negative = np.frombuffer(ulaw_encode(-np.arange(1, 32768, dtype=np.int16)), np.uint8)
    assert np.array_equal(negative, positive & 0x7F)  # only the sign bit differs


def test_ulaw_agrees_with_audioop_for_positive_samples() -> None:
    # audioop (deprecated, gone in 3.13) shifts to 14 bits first, which rounds negative
    # samples differently at segment edges; for the others it is the reference G.711 coder.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    samples = np.arange(0, 32768, dtype=np.int16)
    assert ulaw_encode(samples) == audioop.lin2ulaw(samples.tobytes(), 2)


# --- audio in ------------------------------------------------------------------------------


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 8000) -> Pcm:
    t = np.arange(round(seconds * rate)) / rate
    return Pcm((amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16), rate)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_pcm_reads_wav_and_sln16(tmp_path: Path) -> None:
    samples = tone(440, 0.5, 8000).samples
    with wave.open(str(tmp_path / "a.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(samples.tobytes())
    (tmp_path / "b.sln16").write_bytes(samples.astype("<i2").tobytes())
    wav, raw = Pcm.read(tmp_path / "a.wav"), Pcm.read(tmp_path / "b.sln16")
    assert (wav.rate, raw.rate) == (8000, 16000)
    assert np.array_equal(wav.samples, samples) and np.array_equal(raw.samples, samples)
    assert wav.seconds == 0.5


def test_narrowband_keeps_the_telephone_band_and_removes_what_would_alias() -> None:
    speech, hiss = tone(1000, 1.0, 16000).narrowband(), tone(6000, 1.0, 16000).narrowband()
    assert speech.rate == 8000 and len(speech.samples) == 8000
    assert rms(speech.samples[100:-100]) == pytest.approx(8000 / np.sqrt(2), rel=0.02)
    assert rms(hiss.samples[100:-100]) < 8000 / np.sqrt(2) / 100  # more than 40 dB down


def test_pcm_concatenation_and_rates() -> None:
    joined = Pcm.silence(0.1) + tone(500, 0.2, 16000)
    assert joined.rate == 8000 and len(joined.samples) == 800 + 1600
    with pytest.raises(ValueError, match="44100 Hz"):
        Pcm(np.zeros(10, dtype=np.int16), 44100)


# --- RTP ------------------------------------------------------------------------------------


def test_audio_becomes_20_ms_pcmu_packets_of_one_stream() -> None:
    audio = tone(300, 1.01, 8000)  # 50 packets and a half: the last one padded
    packets = rtp_stream(audio, ssrc=0x1234ABCD, first_sequence=65530, first_timestamp=2**32 - 320)
    assert len(packets) == 51
    assert [p.sequence for p in packets[:8]] == [65530, 65531, 65532, 65533, 65534, 65535, 0, 1]
    assert [p.timestamp for p in packets[:4]] == [2**32 - 320, 2**32 - 160, 0, 160]
    assert {p.ssrc for p in packets} == {0x1234ABCD}
    assert {p.payload_type for p in packets} == {0}
    assert [p.marker for p in packets] == [True] + [False] * 50  # start of the talkspurt
    assert [p.at for p in packets[:3]] == [0.0, 0.02, 0.04]
    assert all(len(p.payload) == FRAME_SAMPLES for p in packets)
    assert packets[7].payload == ulaw_encode(audio.samples[7 * 160 : 8 * 160])
    assert packets[-1].payload[:80] == ulaw_encode(audio.samples[8000:])
    assert packets[-1].payload[80:] == b"\xff" * 80  # padded with silence


def test_a_16_khz_caller_is_sent_at_8_khz() -> None:
    assert len(rtp_stream(tone(300, 1.0, 16000))) == 50


def test_rtp_header_bytes() -> None:
    packet = RtpPacket(0.0, 101, True, 0x0102, 0x03040506, 0x0708090A, b"\x03\x0a\x00\xa0")
    assert packet.to_bytes() == bytes.fromhex("80e5 0102 03040506 0708090a 030a00a0")


def event(packet: RtpPacket) -> tuple[int, bool, int, int]:
    code, flags, duration = struct.unpack("!BBH", packet.payload)
    return code, bool(flags & 0x80), flags & 0x3F, duration


def test_a_key_after_the_audio_is_one_rfc_4733_event_in_the_same_stream() -> None:
    packets = rtp_stream(
        Pcm.silence(0.2), [DtmfKeys("3")], ssrc=7, first_sequence=0, first_timestamp=0
    )
    audio, events = packets[:10], packets[10:]
    assert {p.payload_type for p in audio} == {0} and {p.payload_type for p in events} == {101}
    assert len(events) == 5 + 2  # 100 ms held = 5 updates, the end sent 3 times in all
    assert [p.sequence for p in packets] == list(range(17))
    assert {p.ssrc for p in packets} == {7}
    assert {p.timestamp for p in events} == {10 * 160}  # every packet: the event's start
    assert [p.marker for p in events] == [True] + [False] * 6
    assert [event(p) for p in events] == [
        (3, False, 10, 160),
        (3, False, 10, 320),
        (3, False, 10, 480),
        (3, False, 10, 640),
        (3, True, 10, 800),
        (3, True, 10, 800),
        (3, True, 10, 800),
    ]
    assert [p.at for p in events] == pytest.approx([0.2 + 0.02 * i for i in range(7)])


def test_keys_at_a_given_time_replace_the_audio_they_overlap() -> None:
    packets = rtp_stream(
        tone(300, 1.0, 8000),
        [DtmfKeys("1#", at=0.1, duration=0.06, gap=0.1)],
        first_sequence=100,
        first_timestamp=0,
    )
    assert len(packets) == 50  # one 20 ms slot per packet, the audio's second
    kinds = "".join("e" if p.payload_type == 101 else "a" for p in packets)
    # key 1: slots 5-7 held, end repeated in 8-9; 100 ms after its release (slot 13) key #.
    assert kinds == "a" * 5 + "e" * 5 + "a" * 3 + "e" * 5 + "a" * 32
    assert [p.sequence for p in packets] == list(range(100, 150))
    for slot, packet in enumerate(packets):
        if packet.payload_type == 0:
            assert packet.timestamp == slot * 160  # the sampling clock runs on under events
    assert {p.timestamp for p in packets[5:10]} == {5 * 160}
    assert {p.timestamp for p in packets[13:18]} == {13 * 160}
    assert [event(p)[0] for p in packets[5:10]] == [1] * 5
    assert [event(p)[0] for p in packets[13:18]] == [11] * 5  # '#'
    assert [p.marker for p in packets] == [s in (0, 5, 13) for s in range(50)]


def test_keys_alone_and_a_silent_tail() -> None:
    packets = rtp_stream(None, [DtmfKeys("*")], tail=0.1)
    assert [p.payload_type for p in packets] == [101] * 7 + [0] * 5
    assert event(packets[0])[0] == 10


def test_bad_dtmf() -> None:
    with pytest.raises(ValueError, match="not DTMF"):
        DtmfKeys("1x")
    with pytest.raises(ValueError, match="overlaps"):
        rtp_stream(None, [DtmfKeys("1", at=0.0), DtmfKeys("2", at=0.06)])


# --- pcap -----------------------------------------------------------------------------------


def read_pcap(data: bytes) -> tuple[int, list[tuple[float, bytes]]]:
    """(link type, [(time, frame)]) of a little-endian microsecond pcap."""
    magic, major, minor, _, _, _, link = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor) == (0xA1B2C3D4, 2, 4)
    records, offset = [], 24
    while offset < len(data):
        seconds, micros, caplen, length = struct.unpack("<IIII", data[offset : offset + 16])
        assert caplen == length  # SIPp refuses truncated packets
        records.append((seconds + micros / 1e6, data[offset + 16 : offset + 16 + caplen]))
        offset += 16 + caplen
    return link, records


def test_pcap_is_ethernet_ipv4_udp_as_sipp_reads_it() -> None:
    packets = rtp_stream(tone(300, 0.1, 8000), [DtmfKeys("5")])
    link, records = read_pcap(pcap_bytes(packets))
    assert link == 1  # DLT_EN10MB
    assert len(records) == len(packets) == 5 + 7
    ports = set()
    for (at, frame), packet in zip(records, packets, strict=True):
        assert at == pytest.approx(packet.at)
        assert frame[12:14] == b"\x08\x00"  # IPv4
        ip = frame[14:34]
        assert ip[0] == 0x45 and ip[9] == socket.IPPROTO_UDP
        assert struct.unpack("!H", ip[2:4])[0] == len(frame) - 14
        assert sip_caller._internet_checksum(ip) == 0  # the header checksum is right
        source, destination, length, _ = struct.unpack("!HHHH", frame[34:42])
        assert length == len(frame) - 34 == 8 + len(packet.to_bytes())
        assert frame[42:] == packet.to_bytes()
        ports.add((source, destination))
    assert len(ports) == 1  # one stream: SIPp maps its lowest destination port to Asterisk's


def test_caller_pcap_writes_lead_audio_keys_and_tail(tmp_path: Path) -> None:
    path = tmp_path / "caller.pcap"
    media = caller_pcap(path, tone(300, 0.5, 16000), dtmf="12", lead=1.0, tail=0.5)
    # 1 s + 0.5 s of audio, two keys of 5 slots 5 slots apart with the last one's 2 repeats, 0.5 s.
    slots = 50 + 25 + (5 + 5) + (5 + 2) + 25
    assert (media.path, media.packets, media.seconds) == (path, slots, pytest.approx(slots * 0.02))
    _, records = read_pcap(path.read_bytes())
    assert len(records) == slots
    assert records[-1][0] == pytest.approx((slots - 1) * 0.02)


# --- the scenario and the command -----------------------------------------------------------


def sip_text(element: ElementTree.Element) -> str:
    return "\n".join(line.strip() for line in (element.text or "").strip().splitlines())


def test_scenario_is_well_formed_and_plays_the_pcap_then_waits_for_a_bye() -> None:
    pcap = Path("/tmp/a caller & co.pcap")
    root = ElementTree.fromstring(scenario_xml(pcap, caller="sip-abc", hold=12.5))
    steps = list(root)
    sends = [sip_text(step) for step in steps if step.tag == "send"]
    invite, ack, ok, bye = sends
    assert invite.startswith("INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0")
    assert "From: <sip:sip-abc-[call_number]@[local_ip]:[local_port]>" in invite
    assert "Content-Type: application/sdp" in invite
    for line in (
        "m=audio [auto_media_port] RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
    ):
        assert line in invite.splitlines()
    for request in (ack, bye):  # PJSIP drops an ACK or BYE without the To tag of the 200
        assert "[peer_tag_param]" in request
    assert ack.startswith("ACK ") and "CSeq: 1 ACK" in ack
    assert ok.startswith("SIP/2.0 200 OK") and "[last_CSeq:]" in ok
    assert bye.startswith("BYE ") and "CSeq: 2 BYE" in bye
    (play,) = root.iter("exec")
    assert play.get("play_pcap_audio") == str(pcap)
    receives = [step.attrib for step in steps if step.tag == "recv"]
    assert [r.get("response") or r.get("request") for r in receives] == [
        "100", "180", "183", "200", "BYE", "200",
    ]  # fmt: skip
    bye_wait = receives[4]
    assert bye_wait["timeout"] == "12500"
    labels = [step.get("id") for step in steps if step.tag == "label"]
    assert bye_wait["ontimeout"] in labels
    ok_step = next(step for step in steps if step.tag == "send" and "200 OK" in (step.text or ""))
    assert ok_step.get("next") in labels


def test_scenario_refuses_a_caller_that_is_not_a_sip_user() -> None:
    with pytest.raises(ValueError, match="bad caller"):
        scenario_xml(Path("x.pcap"), caller="a b@c", hold=1)


def test_sipp_command_has_its_ports_and_hard_timeouts(tmp_path: Path) -> None:
    command = sipp_command(
        "/usr/bin/sipp",
        "127.0.0.1:5060",
        work=tmp_path,
        extension="switchboard-ko",
        caller="sip-abc",
        sip_port=40000,
        media_port=40002,
        calls=1,
        rate=10,
        limit=None,
        timeout=41.5,
    )

    def option(name: str) -> str:
        return command[command.index(name) + 1]

    assert command[:2] == ["/usr/bin/sipp", "127.0.0.1:5060"]
    assert option("-sf") == str(tmp_path / "scenario.xml")
    assert (option("-s"), option("-p"), option("-mp"), option("-m")) == (
        "switchboard-ko", "40000", "40002", "1",
    )  # fmt: skip
    assert option("-i") == option("-mi") == "127.0.0.1"
    assert option("-timeout") == "42s" and "-timeout_error" in command
    assert option("-recv_timeout") == "15000"
    assert "-nostdin" in command and "-l" not in command
    assert option("-cid_str") == "sip-abc-%u@%s"
    assert option("-shortmessage_file") == str(tmp_path / "messages.tsv")
    many = sipp_command(
        "sipp", "h:1", work=tmp_path, extension="ivr", caller="c", sip_port=1, media_port=2,
        calls=20, rate=2.5, limit=8, timeout=60,
    )  # fmt: skip
    assert many[many.index("-m") + 1 :][:5] == ["20", "-r", "2.5", "-l", "8"]


def test_short_messages_log(tmp_path: Path) -> None:
    log = tmp_path / "messages.tsv"
    log.write_text(
        "2026-12-01\t15:29:30.963000\t1796138970.963000\tS\tc-1@127.0.0.1\tCSeq:1 INVITE\t"
        "INVITE sip:ivr@127.0.0.1:5060 SIP/2.0\n"
        "2026-12-01\t15:29:30.969000\t1796138970.969000\tR\tc-1@127.0.0.1\tCSeq: 1 INVITE\t"
        "SIP/2.0 200 OK\n"
        "garbage\n"
    )
    invite, ok = read_short_messages(log)
    assert (invite.sent, invite.what, invite.cseq, invite.call_id) == (
        True, "INVITE", "1 INVITE", "c-1@127.0.0.1",
    )  # fmt: skip
    assert (ok.sent, ok.what, ok.at) == (False, "200", 1796138970.969)
    assert caller_number("sip-abc") == "sip-abc-1" and caller_number("x", 3) == "x-3"


# --- the runner, with a stand-in for sipp ---------------------------------------------------

FAKE_SIPP = """#!/bin/sh
# A stand-in for sipp: records its pid and arguments, then sleeps or logs one INVITE.
echo $$ > "$FAKE_SIPP_DIR/pid"
printf '%s\\n' "$@" > "$FAKE_SIPP_DIR/args"
[ "$FAKE_SIPP_MODE" = sleep ] && exec sleep 60
while [ $# -gt 0 ]; do
  if [ "$1" = -shortmessage_file ]; then
    printf '%s\\t%s\\t%s\\tS\\tc-1@127.0.0.1\\tCSeq:1 INVITE\\t%s\\n' 2026-12-01 \\
      15:29:30.963000 1796138970.963000 'INVITE sip:ivr@127.0.0.1 SIP/2.0' > "$2"
  fi
  shift
done
echo "sipp says" >&2
exit "${FAKE_SIPP_EXIT:-0}"
"""


@pytest.fixture
def fake_sipp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "sipp"
    script.write_text(FAKE_SIPP)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SIPP_DIR", str(tmp_path))
    return tmp_path


async def test_sip_call_reports_what_sipp_did(
    fake_sipp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SIPP_EXIT", "1")
    result = await sip_call(
        5060, fake_sipp / "c.pcap", caller="sip-abc", hold=1, log_dir=fake_sipp / "logs"
    )
    assert (result.returncode, result.ok, result.killed) == (1, False, False)
    assert result.caller == "sip-abc"
    assert [m.what for m in result.messages] == ["INVITE"]
    assert result.output == "sipp says\n"
    assert "exited 1" in result.summary() and "-> INVITE sip:ivr@" in result.summary()
    scenario = (fake_sipp / "logs" / "scenario.xml").read_text()
    assert str(fake_sipp / "c.pcap") in scenario
    args = (fake_sipp / "args").read_text().split("\n")
    assert args[0] == "127.0.0.1:5060"
    sip_port, media_port = int(args[args.index("-p") + 1]), int(args[args.index("-mp") + 1])
    assert media_port % 2 == 0 and sip_port != media_port


async def test_a_cancelled_sip_call_kills_sipp(
    fake_sipp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SIPP_MODE", "sleep")
    task = asyncio.create_task(sip_call(5060, fake_sipp / "c.pcap", hold=30))
    while not (fake_sipp / "args").exists():
        await asyncio.sleep(0.01)
    pid = int((fake_sipp / "pid").read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not sip_caller._ports_in_use  # its ports are free for the next call


async def test_sipp_is_killed_after_its_deadline(
    fake_sipp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SIPP_MODE", "sleep")
    monkeypatch.setattr(sip_caller, "KILL_MARGIN", 0.0)
    result = await sip_call(5060, fake_sipp / "c.pcap", hold=0.1, timeout=0.2)
    assert result.killed and not result.ok and result.returncode < 0
    assert result.seconds < 5


async def test_sip_call_without_sipp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(sip_caller.SipCallError, match="apt-get install sip-tester"):
        await sip_call(5060, tmp_path / "c.pcap")


# --- the sandbox's SIP side -----------------------------------------------------------------


def test_pjsip_conf_has_the_port_and_the_endpoint(tmp_path: Path) -> None:
    layout = InstanceLayout(tmp_path, "unit")
    write_configs(layout, http_port=18088, ari_user="speech-ivr", ari_password="pw", sip_port=15060)
    etc = layout.host_dir / "etc"
    pjsip = (etc / "pjsip.conf").read_text()
    assert "bind = 127.0.0.1:15060\n" in pjsip and "@SIP_PORT@" not in pjsip
    for line in (
        "type = endpoint",
        "context = sip-in",
        "allow = ulaw",
        "dtmf_mode = rfc4733",
        "type = identify",
        "match = 127.0.0.1",
    ):
        assert f"\n{line}\n" in pjsip
    assert "auth" not in pjsip.replace("no authentication", "")
    assert stat.S_IMODE((etc / "pjsip.conf").stat().st_mode) == 0o600
    modules = (etc / "modules.conf").read_text()
    pjsip_modules = ["res_pjsip", "chan_pjsip", "res_pjsip_session", "res_pjsip_sdp_rtp"]
    for module in [*pjsip_modules, "res_pjsip_endpoint_identifier_ip", "res_sorcery_astdb"]:
        assert f"load => {module}.so" in modules
    dialplan = (etc / "extensions.conf").read_text()
    sip_in = dialplan.split("[sip-in]\n", 1)[1].split("\n\n", 1)[0]
    assert "exten => ivr,1,Stasis(speech-ivr)" in sip_in
    assert "exten => _[-a-zA-Z0-9].,1,Stasis(speech-ivr,${EXTEN})" in sip_in


def test_render_pjsip_conf_needs_the_placeholder() -> None:
    assert render_pjsip_conf("bind = 127.0.0.1:@SIP_PORT@\n", 5070) == "bind = 127.0.0.1:5070\n"
    with pytest.raises(ValueError, match="@SIP_PORT@"):
        render_pjsip_conf("bind = 127.0.0.1:5060\n", 5070)


def test_a_state_file_from_before_sip_has_no_sip_port(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"http_port": 1, "ari_user": "u", "ari_password": "p", "pid": None}))
    state = _State.load(path)
    assert state is not None and state.sip_port is None

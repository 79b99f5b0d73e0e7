import struct

import numpy as np
import pytest

from ivr.media.rtp_packet import (
    SLIN16_PAYLOAD_TYPE,
    HeaderExtension,
    RtpPacket,
    RtpReceiver,
    slin16_from_rtp,
)

# The start of a packet Asterisk 22.10.1 sent for externalMedia format=slin16 (a 440 Hz tone):
# V=2, no padding/extension/CSRC, marker 0, PT 118, sequence 0x223d, timestamp 640, SSRC.
ASTERISK_HEADER = bytes.fromhex("8076223d000002800e041a6c")
ASTERISK_PAYLOAD_START = bytes.fromhex("12fe0e1d08b90351")  # big-endian samples


def tone(frequency: float = 440.0, seconds: float = 0.02, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(8192 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def smoothness(samples: np.ndarray) -> float:
    """Mean |x[n] - x[n-1]| / mean |x|: 0.17 for a 440 Hz tone at 16 kHz, ~1.5 byte-swapped."""
    x = samples.astype(float)
    return float(np.mean(np.abs(np.diff(x))) / np.mean(np.abs(x)))


def packet(sequence: int, payload: bytes = b"\x00\x01", ssrc: int = 7) -> RtpPacket:
    return RtpPacket(
        payload_type=SLIN16_PAYLOAD_TYPE,
        sequence=sequence,
        timestamp=sequence * 320 % 2**32,
        ssrc=ssrc,
        payload=payload,
    )


class TestParse:
    def test_asterisk_packet(self) -> None:
        parsed = RtpPacket.parse(ASTERISK_HEADER + ASTERISK_PAYLOAD_START)
        assert parsed == RtpPacket(
            payload_type=118,
            sequence=0x223D,
            timestamp=640,
            ssrc=0x0E041A6C,
            payload=ASTERISK_PAYLOAD_START,
        )
        assert parsed.version == 2
        assert not parsed.marker and parsed.csrcs == () and parsed.extension is None
        assert parsed.serialize() == ASTERISK_HEADER + ASTERISK_PAYLOAD_START

    def test_marker_csrcs_extension_and_padding(self) -> None:
        data = (
            bytes([0x80 | 0x20 | 0x10 | 2, 0x80 | 0])  # P, X, CC=2; M, PT 0
            + struct.pack("!HII", 65535, 0xFFFFFFFF, 1)
            + struct.pack("!II", 11, 22)  # CSRCs
            + struct.pack("!HH", 0xBEDE, 1)
            + b"\x10\xaa\x00\x00"  # one word of extension
            + b"payload"
            + b"\x00\x00\x03"  # three padding bytes
        )
        parsed = RtpPacket.parse(data)
        assert parsed.marker and parsed.payload_type == 0
        assert (parsed.sequence, parsed.timestamp, parsed.ssrc) == (65535, 0xFFFFFFFF, 1)
        assert parsed.csrcs == (11, 22)
        assert parsed.extension == HeaderExtension(0xBEDE, b"\x10\xaa\x00\x00")
        assert parsed.payload == b"payload"
        assert parsed.padding == 3
        assert parsed.serialize() == data

    def test_empty_payload(self) -> None:
        assert RtpPacket.parse(ASTERISK_HEADER).payload == b""

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "too short"),
            (ASTERISK_HEADER[:11], "too short"),
            (b"\x40" + ASTERISK_HEADER[1:], "version field is 1"),
            (b"\xc0" + ASTERISK_HEADER[1:], "version field is 3"),
            (b"\x82" + ASTERISK_HEADER[1:] + b"\x00\x00\x00\x01", "2 CSRCs"),
            (b"\x90" + ASTERISK_HEADER[1:] + b"\xbe\xde", "extension header"),
            (b"\x90" + ASTERISK_HEADER[1:] + b"\xbe\xde\x00\x02abcd", "claims 8 bytes"),
            (b"\xa0" + ASTERISK_HEADER[1:] + b"ab\x00", "padding"),
            (b"\xa0" + ASTERISK_HEADER[1:] + b"ab\x04", "padding"),
            (b"\xa0" + ASTERISK_HEADER[1:], "padding"),
        ],
    )
    def test_malformed(self, data: bytes, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            RtpPacket.parse(data)


class TestBuild:
    def test_round_trip(self) -> None:
        original = RtpPacket(
            payload_type=118,
            sequence=1,
            timestamp=2,
            ssrc=3,
            payload=b"\x01\x02",
            marker=True,
            csrcs=(4,),
            extension=HeaderExtension(1, b"abcdefgh"),
            padding=1,
        )
        assert RtpPacket.parse(original.serialize()) == original

    @pytest.mark.parametrize(
        "fields",
        [
            {"payload_type": 128},
            {"sequence": 65536},
            {"sequence": -1},
            {"timestamp": 2**32},
            {"ssrc": 2**32},
            {"csrcs": tuple(range(16))},
            {"padding": 256},
        ],
    )
    def test_out_of_range(self, fields: dict[str, object]) -> None:
        base: dict[str, object] = {"payload_type": 0, "sequence": 0, "timestamp": 0, "ssrc": 0}
        with pytest.raises(ValueError):
            RtpPacket(**{**base, **fields})  # type: ignore[arg-type]

    def test_extension_data_must_be_whole_words(self) -> None:
        with pytest.raises(ValueError, match="multiple of 4"):
            HeaderExtension(1, b"abc")


class TestSlin16:
    def test_asterisk_bytes(self) -> None:
        assert slin16_from_rtp(ASTERISK_PAYLOAD_START) == bytes.fromhex("fe121d0eb9085103")
        assert np.frombuffer(slin16_from_rtp(ASTERISK_PAYLOAD_START), "<i2").tolist() == [
            0x12FE,
            0x0E1D,
            0x08B9,
            0x0351,
        ]

    def test_tone_comes_out_little_endian(self) -> None:
        samples = tone()
        converted = slin16_from_rtp(samples.astype(">i2").tobytes())
        assert converted == samples.astype("<i2").tobytes()
        assert smoothness(np.frombuffer(converted, "<i2")) == pytest.approx(0.17, abs=0.02)
        assert smoothness(np.frombuffer(converted, ">i2")) > 1.0

    def test_odd_length(self) -> None:
        with pytest.raises(ValueError, match="even"):
            slin16_from_rtp(b"\x00\x01\x02")


class TestReceiver:
    def sequence_of(self, receiver: RtpReceiver, sequences: list[int]) -> list[int]:
        """Which packets came out, told by a payload that carries the sequence number."""
        out = []
        for sequence in sequences:
            pcm = receiver.receive(packet(sequence, struct.pack(">H", sequence)))
            if pcm is not None:
                out.append(struct.unpack("<H", pcm)[0])
        return out

    def test_in_order(self) -> None:
        receiver = RtpReceiver()
        assert self.sequence_of(receiver, [5, 6, 7]) == [5, 6, 7]
        counts = (receiver.delivered, receiver.lost, receiver.duplicates, receiver.late)
        assert counts == (3, 0, 0, 0)

    def test_returns_little_endian_pcm(self) -> None:
        samples = tone()
        receiver = RtpReceiver()
        assert receiver.receive(packet(1, samples.astype(">i2").tobytes())) == samples.tobytes()

    def test_wraparound(self) -> None:
        receiver = RtpReceiver()
        assert self.sequence_of(receiver, [65534, 65535, 0, 1]) == [65534, 65535, 0, 1]
        assert receiver.lost == 0

    def test_loss_across_wraparound(self) -> None:
        receiver = RtpReceiver()
        assert self.sequence_of(receiver, [65534, 1]) == [65534, 1]
        assert receiver.lost == 2

    def test_duplicates(self) -> None:
        receiver = RtpReceiver()
        assert self.sequence_of(receiver, [1, 1, 2, 1, 3, 2]) == [1, 2, 3]
        assert receiver.duplicates == 3
        assert receiver.late == 0

    def test_late_packet_is_dropped(self) -> None:
        receiver = RtpReceiver()
        assert self.sequence_of(receiver, [10, 12, 11, 13]) == [10, 12, 13]
        assert (receiver.lost, receiver.late, receiver.duplicates) == (1, 1, 0)

    def test_late_across_wraparound(self) -> None:
        receiver = RtpReceiver()
        assert self.sequence_of(receiver, [65535, 1, 0]) == [65535, 1]
        assert (receiver.lost, receiver.late) == (1, 1)

    def test_new_ssrc_starts_afresh(self) -> None:
        receiver = RtpReceiver()
        assert receiver.receive(packet(40000, ssrc=1)) is not None
        assert receiver.receive(packet(3, ssrc=2)) is not None  # older, but another stream
        assert receiver.receive(packet(4, ssrc=2)) is not None
        assert (receiver.lost, receiver.late) == (0, 0)

    def test_ignores_what_is_not_slin16(self) -> None:
        receiver = RtpReceiver()
        event = RtpPacket(payload_type=101, sequence=1, timestamp=0, ssrc=7, payload=b"1234")
        assert receiver.receive(event) is None
        assert receiver.receive(packet(2, b"\x00\x01\x02")) is None
        assert receiver.ignored == 2
        assert receiver.delivered == 0

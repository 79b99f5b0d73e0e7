"""RTP packets (RFC 3550) as Asterisk's externalMedia sends them, parsed and built without I/O.

What chan_rtp sends for ``format=slin16`` (verified on Asterisk 22.10.1): RTP version 2, a 12-byte
header (no CSRCs, no extension, no padding), payload type 118, 640-byte payloads of 20 ms of
16 kHz mono 16-bit PCM in **big-endian** (network) order, timestamps stepping by 320. The parser
still handles the whole header format, so a packet from anything else fails with a clear error
or parses correctly, never silently shifted.
"""

from __future__ import annotations

import struct
from array import array
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

RTP_VERSION = 2
SLIN16_PAYLOAD_TYPE = 118
"""Asterisk's fixed dynamic payload type for slin16 (not negotiated: do not expect 96)."""

_FIXED_HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
_EXTENSION_HEADER = struct.Struct("!HH")  # profile-defined id, length in 32-bit words
_SEQUENCE_MODULUS = 1 << 16
_MAX_CSRCS = 15


@dataclass(frozen=True)
class HeaderExtension:
    """An RTP header extension (RFC 3550 §5.3.1), kept opaque: `data` is a multiple of 4 bytes."""

    profile: int
    data: bytes = b""

    def __post_init__(self) -> None:
        _check_range("extension profile", self.profile, 0xFFFF)
        if len(self.data) % 4 or len(self.data) > 4 * 0xFFFF:
            raise ValueError(
                f"header extension data must be a multiple of 4 bytes up to {4 * 0xFFFF}, "
                f"got {len(self.data)}"
            )


@dataclass(frozen=True, kw_only=True)
class RtpPacket:
    """One RTP packet. `payload` excludes the padding; `padding` is how many bytes there were."""

    version: ClassVar[int] = RTP_VERSION

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: HeaderExtension | None = None
    padding: int = 0

    def __post_init__(self) -> None:
        _check_range("payload type", self.payload_type, 0x7F)
        _check_range("sequence number", self.sequence, 0xFFFF)
        _check_range("timestamp", self.timestamp, 0xFFFFFFFF)
        _check_range("SSRC", self.ssrc, 0xFFFFFFFF)
        if len(self.csrcs) > _MAX_CSRCS:
            raise ValueError(f"at most {_MAX_CSRCS} CSRCs fit in a header, got {len(self.csrcs)}")
        for csrc in self.csrcs:
            _check_range("CSRC", csrc, 0xFFFFFFFF)
        _check_range("padding length", self.padding, 0xFF)

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one datagram; raise `ValueError` saying what is wrong when it is not RTP v2."""
        if len(data) < _FIXED_HEADER.size:
            raise ValueError(
                f"RTP packet too short: {len(data)} bytes, the fixed header alone is "
                f"{_FIXED_HEADER.size}"
            )
        first, second, sequence, timestamp, ssrc = _FIXED_HEADER.unpack_from(data)
        version = first >> 6
        if version != RTP_VERSION:
            raise ValueError(f"not RTP version 2: the version field is {version}")
        has_padding = bool(first & 0x20)
        has_extension = bool(first & 0x10)
        csrc_count = first & 0x0F

        offset = _FIXED_HEADER.size
        csrcs_end = offset + 4 * csrc_count
        if len(data) < csrcs_end:
            raise ValueError(
                f"RTP packet truncated: {csrc_count} CSRCs need {csrcs_end} header bytes, "
                f"the packet has {len(data)}"
            )
        csrcs = struct.unpack_from(f"!{csrc_count}I", data, offset)
        offset = csrcs_end

        extension = None
        if has_extension:
            if len(data) < offset + _EXTENSION_HEADER.size:
                raise ValueError("RTP packet truncated inside its header extension header")
            profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
            offset += _EXTENSION_HEADER.size
            if len(data) < offset + 4 * words:
                raise ValueError(
                    f"RTP header extension claims {4 * words} bytes, only "
                    f"{len(data) - offset} remain"
                )
            extension = HeaderExtension(profile, bytes(data[offset : offset + 4 * words]))
            offset += 4 * words

        end = len(data)
        padding = 0
        if has_padding:
            padding = data[-1]
            if padding == 0 or padding > end - offset:
                raise ValueError(
                    f"bad RTP padding: the last byte says {padding} padding bytes, "
                    f"{end - offset} bytes follow the header"
                )
            end -= padding

        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(second & 0x80),
            csrcs=tuple(csrcs),
            extension=extension,
            padding=padding,
        )

    def serialize(self) -> bytes:
        """The packet on the wire; `parse(packet.serialize()) == packet`."""
        first = (
            RTP_VERSION << 6
            | (0x20 if self.padding else 0)
            | (0x10 if self.extension is not None else 0)
            | len(self.csrcs)
        )
        second = (0x80 if self.marker else 0) | self.payload_type
        parts = [
            _FIXED_HEADER.pack(first, second, self.sequence, self.timestamp, self.ssrc),
            struct.pack(f"!{len(self.csrcs)}I", *self.csrcs),
        ]
        if self.extension is not None:
            data = self.extension.data
            parts += [_EXTENSION_HEADER.pack(self.extension.profile, len(data) // 4), data]
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


def slin16_from_rtp(payload: bytes) -> bytes:
    """Asterisk's big-endian slin16 RTP payload as little-endian PCM (what Vosk and the rest of
    the app expect): every 16-bit sample byte-swapped."""
    if len(payload) % 2:
        raise ValueError(f"16-bit PCM needs an even number of bytes, got {len(payload)}")
    samples = array("h", payload)
    samples.byteswap()
    return samples.tobytes()


class RtpReceiver:
    """Turns the slin16 RTP packets of one stream, in arrival order, into PCM in sequence order.

    There is no jitter buffer (the tap runs on loopback, where packets arrive in order): a packet
    is delivered at once if it is newer than the last one delivered, else dropped, so that the
    recognizer never gets audio twice or out of order. Sequence numbers wrap at 65536; "newer"
    means less than half the sequence space ahead. A new SSRC starts the count afresh.

    Counters: `lost` sequence numbers skipped over (a packet that shows up after its successor
    still counts, its audio never reached the recognizer), of which `late` arrived after all;
    `duplicates` of recently delivered packets; `ignored` packets that are not slin16 audio
    (another payload type or an odd payload length).
    """

    _RECENT = 64  # how many delivered sequence numbers are remembered to recognize duplicates

    def __init__(self, payload_type: int = SLIN16_PAYLOAD_TYPE) -> None:
        self.payload_type = payload_type
        self.delivered = 0
        self.lost = 0
        self.late = 0
        self.duplicates = 0
        self.ignored = 0
        self._ssrc: int | None = None
        self._last: int | None = None
        self._recent: deque[int] = deque(maxlen=self._RECENT)

    def receive(self, packet: RtpPacket) -> bytes | None:
        """The packet's audio as little-endian PCM, or None when it is dropped."""
        if packet.payload_type != self.payload_type or len(packet.payload) % 2:
            self.ignored += 1
            return None
        if packet.ssrc != self._ssrc:
            self._ssrc, self._last = packet.ssrc, None
            self._recent.clear()
        if self._last is not None:
            ahead = (packet.sequence - self._last) % _SEQUENCE_MODULUS
            if ahead == 0 or (ahead >= _SEQUENCE_MODULUS // 2 and packet.sequence in self._recent):
                self.duplicates += 1
                return None
            if ahead >= _SEQUENCE_MODULUS // 2:
                self.late += 1
                return None
            self.lost += ahead - 1
        self._last = packet.sequence
        self._recent.append(packet.sequence)
        self.delivered += 1
        return slin16_from_rtp(packet.payload)


def _check_range(what: str, value: int, maximum: int) -> None:
    if not 0 <= value <= maximum:
        raise ValueError(f"{what} must be between 0 and {maximum}, got {value}")

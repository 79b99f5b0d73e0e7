import uuid

import pytest

from ivr.media.audiosocket_frames import (
    DEFAULT_MAX_PAYLOAD,
    AudioSocketDecoder,
    Kind,
    Message,
    encode,
)

CALL = uuid.UUID("3f2a6c1e-8a4b-4c7d-9e0f-112233445566")
AUDIO = bytes(range(256)) * 2 + bytes(128)  # 640 bytes, 20 ms of slin16

# What Asterisk sends for a slin16 tap with DTMF: its UUID, audio, a digit.
STREAM = b"\x01\x00\x10" + CALL.bytes + b"\x12\x02\x80" + AUDIO + b"\x03\x00\x01#"
MESSAGES = [Message(Kind.UUID, CALL.bytes), Message(Kind.SLIN16, AUDIO), Message(Kind.DTMF, b"#")]


def test_encode() -> None:
    encoded = [encode(message.kind, message.payload) for message in MESSAGES]
    assert b"".join(encoded) == STREAM
    assert encode(Kind.HANGUP) == b"\x00\x00\x00"
    assert encode(0x42, b"x") == b"\x42\x00\x01x"


def test_encode_limits() -> None:
    assert len(encode(Kind.SLIN16, bytes(0xFFFF))) == 3 + 0xFFFF
    with pytest.raises(ValueError, match="at most 65535"):
        encode(Kind.SLIN16, bytes(0x10000))
    with pytest.raises(ValueError, match="one byte"):
        encode(0x100)


def test_several_messages_in_one_read() -> None:
    decoder = AudioSocketDecoder()
    assert decoder.feed(STREAM) == MESSAGES
    assert decoder.buffered == 0


def test_split_at_every_position() -> None:
    for cut in range(1, len(STREAM)):
        decoder = AudioSocketDecoder()
        assert decoder.feed(STREAM[:cut]) + decoder.feed(STREAM[cut:]) == MESSAGES, cut
        assert decoder.buffered == 0, cut


def test_byte_by_byte() -> None:
    decoder = AudioSocketDecoder()
    messages = [message for byte in STREAM for message in decoder.feed(bytes([byte]))]
    assert messages == MESSAGES


def test_incomplete_message_stays_buffered() -> None:
    decoder = AudioSocketDecoder()
    assert decoder.feed(STREAM[:30]) == [Message(Kind.UUID, CALL.bytes)]
    assert decoder.buffered == 30 - 19


def test_uuid_and_digit() -> None:
    uuid_message, _, dtmf = AudioSocketDecoder().feed(STREAM)
    assert uuid_message.uuid == CALL
    assert dtmf.digit == "#"
    with pytest.raises(ValueError):
        _ = Message(Kind.UUID, b"short").uuid
    with pytest.raises(ValueError):
        _ = Message(Kind.SLIN16, b"#").digit


def test_empty_payloads() -> None:
    decoder = AudioSocketDecoder()
    assert decoder.feed(b"\x00\x00\x00\xff\x00\x01\x04") == [
        Message(Kind.HANGUP),
        Message(Kind.ERROR, b"\x04"),
    ]


def test_unknown_kind_is_decoded_as_a_number() -> None:
    decoder = AudioSocketDecoder()
    (unknown, audio) = decoder.feed(b"\x11\x00\x02ab" + encode(Kind.SLIN, bytes(320)))
    assert unknown == Message(0x11, b"ab")
    assert not isinstance(unknown.kind, Kind)
    assert audio == Message(Kind.SLIN, bytes(320))


def test_oversize_length_fails_at_once() -> None:
    decoder = AudioSocketDecoder()
    with pytest.raises(ValueError, match="out of step"):
        decoder.feed(b"\x12" + (DEFAULT_MAX_PAYLOAD + 1).to_bytes(2, "big"))


def test_larger_limit() -> None:
    decoder = AudioSocketDecoder(max_payload=0xFFFF)
    payload = bytes(0xFFFF)
    assert decoder.feed(encode(Kind.SLIN16, payload)) == [Message(Kind.SLIN16, payload)]

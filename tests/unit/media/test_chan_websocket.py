from ivr.media.chan_websocket import parse_control


def test_plain_text_media_start() -> None:
    message = parse_control(
        "MEDIA_START connection_id:fe272ad0-a8b1 channel:WebSocket/INCOMING/0x7f1610009240 "
        "channel_id:1795557394.42 format:slin16 optimal_frame_size:640 ptime:20"
    )
    assert message.event == "MEDIA_START"
    assert message.fields["channel_id"] == "1795557394.42"
    assert message.fields["channel"] == "WebSocket/INCOMING/0x7f1610009240"
    assert message.fields["optimal_frame_size"] == "640"


def test_plain_text_dtmf() -> None:
    message = parse_control("DTMF_END digit:1 channel_id:1795557394.42")
    assert (message.event, message.fields["digit"]) == ("DTMF_END", "1")


def test_json_media_start() -> None:
    message = parse_control(
        '{"event":"MEDIA_START","connection_id":"lab_ws","channel":"WebSocket/lab_ws/0x7f15f4008b70",'
        '"channel_id":"1795557410.45","format":"slin16","optimal_frame_size":640,"ptime":20}'
    )
    assert message.event == "MEDIA_START"
    assert message.fields["optimal_frame_size"] == 640


def test_garbage_does_not_raise() -> None:
    assert parse_control("{not json").event == "INVALID"
    assert parse_control("[1,2]").event == "INVALID"
    assert parse_control("").event == "UNKNOWN"

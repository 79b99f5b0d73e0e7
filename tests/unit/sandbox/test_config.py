"""ivr.sandbox.config: an instance's asterisk.conf, http.conf, ari.conf and dialplan."""

from __future__ import annotations

import stat
from pathlib import Path, PurePosixPath

from ivr.sandbox.config import (
    InstanceLayout,
    render_ari_conf,
    render_asterisk_conf,
    render_http_conf,
    write_configs,
)


def test_asterisk_conf_keeps_instances_apart_and_shares_sounds() -> None:
    text = render_asterisk_conf(InstanceLayout(Path("/cache/asterisk-22"), "demo"))
    for key, sub in [
        ("astetcdir", "etc"),
        ("astrundir", "run"),
        ("astlogdir", "log"),
        ("astspooldir", "spool"),
        ("astdbdir", "db"),
        ("astcachedir", "cache"),
    ]:
        assert f"{key} => /var/lib/speech-ivr/instances/demo/{sub}\n" in text
    assert "astdatadir" not in text  # Debian's default: sounds are shared


def test_http_and_ari_conf() -> None:
    http = render_http_conf(18088)
    assert "bindaddr = 127.0.0.1\n" in http
    assert "bindport = 18088\n" in http
    assert "sessionlimit = 1000\n" in http
    ari = render_ari_conf("speech-ivr", "s3cret")
    assert "[speech-ivr]\ntype = user\n" in ari
    assert "password = s3cret\npassword_format = plain\n" in ari


def test_write_configs_writes_private_files(tmp_path: Path) -> None:
    layout = InstanceLayout(tmp_path, "unit")
    write_configs(layout, http_port=18088, ari_user="speech-ivr", ari_password="pw")
    etc = layout.host_dir / "etc"
    assert layout.host_dir == tmp_path / "var/lib/speech-ivr/instances/unit"
    assert layout.asterisk_conf == PurePosixPath(
        "/var/lib/speech-ivr/instances/unit/etc/asterisk.conf"
    )
    names = {path.name for path in etc.iterdir()}
    assert {"asterisk.conf", "http.conf", "ari.conf", "modules.conf", "extensions.conf"} <= names
    assert stat.S_IMODE((etc / "ari.conf").stat().st_mode) == 0o600
    dialplan = (etc / "extensions.conf").read_text()
    for context in (
        "[ivr-in]",
        "[ivr-flow]",
        "[ivr-dest](ivr-arrival)",
        "[ivr-fallback](ivr-arrival)",
        "[caller]",
    ):
        assert context in dialplan
    for sub in ("run", "log", "spool", "db", "cache"):
        assert (layout.host_dir / sub).is_dir()

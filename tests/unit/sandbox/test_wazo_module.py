"""ivr.sandbox.wazo_module: where the module's source is, the stamp that says when to rebuild,
and the Wazo variant of a sandbox (its rootfs and its extra module)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from ivr.sandbox import Sandbox, SandboxError, wazo_module
from ivr.sandbox.config import InstanceLayout, with_modules, write_configs
from ivr.sandbox.wazo_module import (
    SOURCE_ENV,
    STAMP_IN_ROOTFS,
    build_stamp,
    ensure_wazo_rootfs,
    module_dir,
    module_source,
    source_files,
    wazo_rootfs_path,
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A directory that looks like the module's source."""
    directory = tmp_path / "wazo-stream-module"
    directory.mkdir()
    (directory / "Makefile").write_text("TARGET = res_ari_stream.so\n")
    (directory / "res_ari_stream.c").write_text("/* the module */\n")
    (directory / "README.md").write_text("upstream's readme\n")
    return directory


def test_the_setting_names_the_source(source: Path) -> None:
    assert module_source({SOURCE_ENV: str(source)}) == source


def test_without_the_setting_the_shared_copy_is_used(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wazo_module, "DEFAULT_SOURCE", source)
    assert module_source({}) == source


@pytest.mark.parametrize("setting", [None, "/nowhere/wazo-stream-module"])
def test_a_missing_source_is_one_line_saying_how_to_set_it(
    setting: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wazo_module, "DEFAULT_SOURCE", tmp_path / "absent")
    with pytest.raises(SandboxError) as missing:
        module_source({SOURCE_ENV: setting} if setting else {})
    message = str(missing.value)
    assert "\n" not in message
    assert f"set {SOURCE_ENV} to a checkout of {wazo_module.UPSTREAM}" in message
    assert (setting or f"{SOURCE_ENV} is unset") in message


def test_a_directory_without_the_module_is_refused(source: Path) -> None:
    (source / "res_ari_stream.c").unlink()
    with pytest.raises(SandboxError, match="no res_ari_stream.c"):
        module_source({SOURCE_ENV: str(source)})


def test_source_files_leave_out_hidden_entries_and_build_outputs(source: Path) -> None:
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/master\n")
    (source / "res_ari_stream.o").write_bytes(b"\x7fELF")
    (source / "res_ari_stream.so").write_bytes(b"\x7fELF")
    (source / "contribs").mkdir()
    (source / "contribs" / "client.py").write_text("print()\n")
    assert source_files(source) == [
        Path("Makefile"), Path("README.md"), Path("contribs/client.py"), Path("res_ari_stream.c")
    ]


def test_the_stamp_changes_with_the_source_only(source: Path) -> None:
    stamp = build_stamp(source)
    assert build_stamp(source) == stamp
    (source / "res_ari_stream.so").write_bytes(b"built")  # a `make` in the source directory
    assert build_stamp(source) == stamp
    (source / "res_ari_stream.c").write_text("/* the module, patched */\n")
    changed = build_stamp(source)
    assert changed != stamp
    (source / "res_ari_stream.c").rename(source / "other.c")
    assert build_stamp(source) not in (stamp, changed)


def test_the_module_goes_where_asterisk_conf_says() -> None:
    conf = (
        "[directories](!)\nastetcdir => /etc/asterisk\n"
        "astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules\n"
    )
    assert module_dir(conf) == PurePosixPath("/usr/lib/x86_64-linux-gnu/asterisk/modules")
    with pytest.raises(SandboxError, match="astmoddir"):
        module_dir("[directories]\n;astmoddir => /usr/lib/asterisk/modules\n")


def test_the_wazo_rootfs_is_cached_beside_the_plain_one(tmp_path: Path) -> None:
    assert wazo_rootfs_path(tmp_path) == tmp_path / "asterisk-22-wazo"
    assert Sandbox("x", cache_dir=tmp_path, variant="wazo").variant.path(tmp_path) == (
        tmp_path / "asterisk-22-wazo"
    )


def test_an_unknown_variant_is_refused() -> None:
    with pytest.raises(SandboxError, match="unknown sandbox variant 'freeswitch'"):
        Sandbox("x", variant="freeswitch")


def _stamped(rootfs: Path, stamp: str) -> None:
    stamp_file = rootfs / STAMP_IN_ROOTFS.relative_to("/")
    stamp_file.parent.mkdir(parents=True)
    stamp_file.write_text(stamp + "\n")


def test_a_rootfs_with_the_source_stamp_is_reused_without_root(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    _stamped(tmp_path / "asterisk-22-wazo", build_stamp(source))
    assert ensure_wazo_rootfs(tmp_path, source=source) == tmp_path / "asterisk-22-wazo"


def test_a_rootfs_of_another_source_is_rebuilt(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    _stamped(tmp_path / "asterisk-22-wazo", "the stamp of an older source")
    with pytest.raises(SandboxError, match="needs root"):
        ensure_wazo_rootfs(tmp_path, source=source)


def test_only_the_variant_loads_the_module(tmp_path: Path) -> None:
    plain, wazo = (InstanceLayout(tmp_path / name, "i") for name in ("plain", "wazo"))
    for layout, modules in ((plain, ()), (wazo, ("res_ari_stream.so",))):
        write_configs(
            layout, http_port=8088, ari_user="u", ari_password="p", extra_modules=modules
        )
    modules_conf = [(layout.host_dir / "etc/modules.conf").read_text() for layout in (plain, wazo)]
    assert "res_ari_stream" not in modules_conf[0]
    assert modules_conf[1] == with_modules(modules_conf[0], ["res_ari_stream.so"])
    assert modules_conf[1].endswith("\nload => res_ari_stream.so\n")
    assert "autoload = no" in modules_conf[1]

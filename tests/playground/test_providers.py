"""Which providers are configured, and from where: junjo.toml or JUNJO_* (the settings),
else the provider's own variable. What leaves the module never holds a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from junjo.config import ConfigError, Settings, load_settings
from junjo.features.playground import usable_providers
from junjo.features.playground.providers import load_providers


def test_nothing_configured(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    assert usable_providers(settings, env={}) == []
    providers = load_providers(settings, env={})
    assert not providers["openai"].configured
    assert "OPENAI_API_KEY" in providers["openai"].how_to
    assert "openai_compatible_base_url" in providers["openai_compatible"].how_to


def test_the_providers_own_variables_are_used(tmp_path: Path):
    env = {"OPENAI_API_KEY": "sk-env", "GEMINI_API_KEY": "g-env"}
    providers = load_providers(Settings(data_dir=tmp_path), env=env)
    assert usable_providers(Settings(data_dir=tmp_path), env=env) == ["openai", "gemini"]
    assert providers["openai"].api_key == "sk-env"
    assert providers["openai"].source == "OPENAI_API_KEY"


def test_junjo_settings_win_over_the_providers_variables(tmp_path: Path):
    toml = tmp_path / "junjo.toml"
    toml.write_text('anthropic_api_key = "from-toml"\nopenai_api_key = "from-toml"\n')
    env = {"JUNJO_OPENAI_API_KEY": "from-junjo-env", "OPENAI_API_KEY": "plain",
           "ANTHROPIC_API_KEY": "plain"}  # fmt: skip
    settings = load_settings(env=env, config_file=toml)
    providers = load_providers(settings, env=env)
    assert providers["openai"].api_key == "from-junjo-env"
    assert providers["anthropic"].api_key == "from-toml"


def test_an_openai_compatible_server_is_its_base_url(tmp_path: Path):
    settings = load_settings(
        env={"JUNJO_OPENAI_COMPATIBLE_BASE_URL": "http://user:pw@localhost:11434/v1/"},
        config_file=None,
    )
    provider = load_providers(settings, env={})["openai_compatible"]
    assert provider.configured
    assert provider.base_url == "http://user:pw@localhost:11434/v1"
    assert provider.public()["base_url"] == "http://localhost:11434/v1"  # no credentials
    with pytest.raises(ConfigError, match="openai_compatible_base_url"):
        load_settings(env={"JUNJO_OPENAI_COMPATIBLE_BASE_URL": "localhost:11434"})


def test_keys_are_never_shown(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, openai_api_key="sk-secret-1",
                        openai_compatible_base_url="http://localhost:1/v1",
                        openai_compatible_api_key="sk-secret-2")  # fmt: skip
    providers = load_providers(settings, env={"GEMINI_API_KEY": "sk-secret-3"})
    shown = json.dumps([p.public() for p in providers.values()]) + repr(providers) + repr(settings)
    for secret in ("sk-secret-1", "sk-secret-2", "sk-secret-3"):
        assert secret not in shown

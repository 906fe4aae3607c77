"""Which LLM providers the playground may call, and with what: a key from ``junjo.toml``
or ``JUNJO_*`` (the settings), else the provider's own environment variable; for an
OpenAI-compatible server, its base URL. Keys stay in this module's objects: what leaves it
(``public``) says only whether a provider is configured and where that came from.

``usable_providers`` is what ``junjo doctor`` (and the UI) report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from junjo.config import Settings
from junjo.kernel.errors import BadRequest

# Our provider names, as the prefix of a model ("openai/gpt-4o"). The first three are
# Junjo AI Studio's; LiteLLM names the same three alike.
PROVIDERS = ("openai", "anthropic", "gemini", "openai_compatible")
LABELS = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Gemini",
    "openai_compatible": "OpenAI-compatible server",
}
_KEY_VARIABLES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
}


@dataclass(frozen=True)
class Provider:
    name: str
    configured: bool
    source: str  # where the configuration came from (a setting or a variable name), or ""
    how_to: str  # what to set, for a provider that is not configured
    base_url: str = ""  # openai_compatible only (without any user:password in it)
    api_key: str = field(default="", repr=False)  # never leaves this process

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def public(self) -> dict[str, object]:
        """What the API and the UI may show: never the key."""
        return {
            "provider": self.name,
            "label": self.label,
            "configured": self.configured,
            "source": self.source or None,
            "how_to_configure": self.how_to,
            "base_url": _without_credentials(self.base_url) or None,
        }


def load_providers(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """Every provider, configured or not. ``env``: the process environment by default."""
    env = os.environ if env is None else env
    found = {name: _keyed(name, settings, env) for name in _KEY_VARIABLES}
    found["openai_compatible"] = _compatible(settings, env)
    return found


def usable_providers(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """The names of the providers the playground can call now (for ``junjo doctor``)."""
    return [p.name for p in load_providers(settings, env).values() if p.configured]


def _keyed(name: str, settings: Settings, env: Mapping[str, str]) -> Provider:
    setting = f"{name}_api_key"
    variable = _KEY_VARIABLES[name]
    how_to = (
        f"set {variable} (or JUNJO_{setting.upper()}) in the environment of junjo serve,"
        f" or {setting} in junjo.toml, and restart it"
    )
    own = getattr(settings, setting)
    if own:
        return Provider(name, True, f"{setting} (junjo.toml or JUNJO_{setting.upper()})", how_to,
                        api_key=own)  # fmt: skip
    if env.get(variable, "").strip():
        return Provider(name, True, variable, how_to, api_key=env[variable].strip())
    return Provider(name, False, "", how_to)


def _compatible(settings: Settings, env: Mapping[str, str]) -> Provider:
    how_to = (
        "set openai_compatible_base_url in junjo.toml (or JUNJO_OPENAI_COMPATIBLE_BASE_URL),"
        ' e.g. "http://localhost:11434/v1" for Ollama, and restart junjo serve'
    )
    url = settings.openai_compatible_base_url.rstrip("/")
    if not url:
        return Provider("openai_compatible", False, "", how_to)
    return Provider(
        "openai_compatible",
        True,
        "openai_compatible_base_url",
        how_to,
        base_url=url,
        api_key=settings.openai_compatible_api_key,
    )


def _without_credentials(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_provider(name: str) -> str:
    if name not in PROVIDERS:
        raise BadRequest(f"Invalid provider. Must be one of: {', '.join(PROVIDERS)}")
    return name


def configured(providers: Mapping[str, Provider], name: str) -> Provider:
    """The provider, or BadRequest saying how to configure it."""
    provider = providers[check_provider(name)]
    if not provider.configured:
        raise BadRequest(f"{provider.label} is not configured: {provider.how_to}.")
    return provider

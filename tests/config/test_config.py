import os
import re
import stat
from pathlib import Path

import pytest

from junjo.config import ConfigError, Settings, load_settings, session_secret

REPO = Path(__file__).resolve().parents[2]


def test_defaults_bind_loopback_and_the_junjo_ports():
    settings = load_settings(env={})
    assert (settings.host, settings.port, settings.grpc_port) == ("127.0.0.1", 26154, 26155)
    assert settings.data_dir.name == "junjo"


def test_flag_beats_env_beats_toml_beats_default(tmp_path: Path):
    toml = tmp_path / "junjo.toml"
    toml.write_text('port = 1111\ngrpc_port = 2222\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    env = {"JUNJO_PORT": "3333", "JUNJO_GRPC_PORT": "4444"}
    settings = load_settings(flags={"port": 5555}, env=env, config_file=toml)
    assert settings.port == 5555  # flag
    assert settings.grpc_port == 4444  # env
    assert settings.host == "0.0.0.0"  # toml
    assert settings.log_format == "text"  # default


def test_config_file_can_come_from_the_environment(tmp_path: Path):
    toml = tmp_path / "other.toml"
    toml.write_text(f'data_dir = "{tmp_path / "d"}"\n')
    assert load_settings(env={"JUNJO_CONFIG": str(toml)}).data_dir == tmp_path / "d"


def test_config_paths_may_start_with_a_tilde(tmp_path: Path, monkeypatch):
    # A quoted or --config=~/... path reaches us unexpanded by the shell.
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "j.toml").write_text(f'data_dir = "{tmp_path / "d"}"\n')
    assert load_settings(env={}, config_file=Path("~/j.toml")).data_dir == tmp_path / "d"
    assert load_settings(env={"JUNJO_CONFIG": "~/j.toml"}).data_dir == tmp_path / "d"


def test_bad_values_are_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="'port'"):
        load_settings(env={"JUNJO_PORT": "eighty"})
    toml = tmp_path / "junjo.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings(env={}, config_file=toml)


def test_example_file_documents_every_setting():
    """Top-level keys, a grouping table's keys (``[retention]``: ``retention_*``), and a
    table that is one setting by its name (``[masking]``: its keys have their own test)."""
    example = (REPO / "junjo.toml.example").read_text()
    fields = set(Settings.__dataclass_fields__)
    documented, table = set(), ""
    for line in example.splitlines():
        if heading := re.match(r"^#? ?\[\[?([a-z_]+)", line):
            table = heading[1]
            if table in fields:  # [masking]: the table is one setting
                documented.add(table)
        elif (key := re.match(r"^#? ?([a-z_]+) =", line)) and table not in fields:
            documented.add(f"{table}_{key[1]}" if table else key[1])  # retention_<key>
    assert fields == documented


def test_retention_table_and_environment(tmp_path: Path):
    toml = tmp_path / "junjo.toml"
    toml.write_text("[retention]\nmax_age_days = 7\nmax_disk_gb = 1.5\n")
    settings = load_settings(env={}, config_file=toml)
    assert (settings.retention_max_age_days, settings.retention_max_disk_gb) == (7, 1.5)
    defaults = load_settings(env={})
    assert (defaults.retention_max_age_days, defaults.retention_max_disk_gb) == (30, None)
    env = {"JUNJO_RETENTION_MAX_AGE_DAYS": "0", "JUNJO_RETENTION_MAX_DISK_GB": "2"}
    from_env = load_settings(env=env, config_file=toml)
    assert (from_env.retention_max_age_days, from_env.retention_max_disk_gb) == (0, 2.0)
    with pytest.raises(ConfigError, match="retention_max_disk_gb"):
        load_settings(env={"JUNJO_RETENTION_MAX_DISK_GB": "-1"})


def test_example_file_documents_every_masking_key():
    from junjo.config import MaskingRule, MaskingSettings

    example = (REPO / "junjo.toml.example").read_text()
    tables = example[re.search(r"^# \[masking\]", example, re.MULTILINE).start() :]
    documented = set(re.findall(r"^#? ?([a-z_]+) =", tables, re.MULTILINE))
    keys = set(MaskingRule.__dataclass_fields__) | set(MaskingSettings.__dataclass_fields__)
    assert documented == keys - {"rules"}


def test_session_secret_is_generated_once_and_private(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "d")
    first = session_secret(settings)
    assert len(first) >= 48
    assert session_secret(settings) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "d" / "secret_key").st_mode)
    assert mode == 0o600


def test_configured_secret_wins(tmp_path: Path):
    configured = "c" * 40
    settings = Settings(data_dir=tmp_path / "d", session_secret=configured)
    assert session_secret(settings) == configured
    assert not (tmp_path / "d" / "secret_key").exists()


def test_short_or_empty_secrets_are_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="at least 32"):
        session_secret(Settings(data_dir=tmp_path / "d", session_secret="short"))
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="delete the secret_key"):
        session_secret(Settings(data_dir=tmp_path / "e"))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JUNJO_LOG_LEVEL": "loud"}, "log_level"),
        ({"JUNJO_LOG_FORMAT": "xml"}, "log_format"),
        ({"JUNJO_PORT": "70000"}, "port"),
        ({"JUNJO_GRPC_MAX_RECEIVE_MB": "0"}, "grpc_max_receive_mb"),
    ],
)
def test_out_of_range_values_are_refused(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_allowed_hosts_from_toml_list_or_comma_separated_env(tmp_path: Path):
    toml = tmp_path / "junjo.toml"
    toml.write_text('allowed_hosts = ["Junjo.Example.com", "*.corp.example", "[::1]"]\n')
    from_toml = load_settings(env={}, config_file=toml).allowed_hosts
    assert from_toml == ("junjo.example.com", "*.corp.example", "::1")
    from_env = load_settings(env={"JUNJO_ALLOWED_HOSTS": " a.example , *,"}).allowed_hosts
    assert from_env == ("a.example", "*")
    assert load_settings(env={}).allowed_hosts == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JUNJO_ALLOWED_HOSTS": "https://junjo.example.com"}, "allowed_hosts"),
        ({"JUNJO_ALLOWED_HOSTS": "junjo.example.com:8080"}, "allowed_hosts"),
        ({"JUNJO_ALLOWED_HOSTS": "bad host"}, "allowed_hosts"),
        ({"JUNJO_PUBLIC_URL": "junjo.example.com"}, "public_url"),
        ({"JUNJO_PUBLIC_URL": "ftp://junjo.example.com"}, "public_url"),
    ],
)
def test_unusable_host_settings_are_refused(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_trusted_proxies_are_addresses_or_networks():
    assert load_settings(env={}).trusted_proxies == ()  # believe no X-Forwarded-For
    env = {"JUNJO_TRUSTED_PROXIES": " 127.0.0.1, 10.1.2.3/8,::1 ,"}
    assert load_settings(env=env).trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    for bad in ("*", "proxy.local", "10.0.0.0/33", "0.0.0.0/0", "::/0"):
        with pytest.raises(ConfigError, match="'trusted_proxies'"):
            load_settings(env={"JUNJO_TRUSTED_PROXIES": bad})


def test_password_check_concurrency_is_bounded():
    assert load_settings(env={}).password_check_concurrency == 2
    with pytest.raises(ConfigError, match="'password_check_concurrency'"):
        load_settings(env={"JUNJO_PASSWORD_CHECK_CONCURRENCY": "0"})


def test_the_converter_setting(tmp_path: Path):
    assert load_settings(env={}).converter == "auto"
    assert load_settings(env={"JUNJO_CONVERTER": "python"}).converter == "python"
    toml = tmp_path / "junjo.toml"
    toml.write_text('converter = "native"\n')
    assert load_settings(env={}, config_file=toml).converter == "native"
    with pytest.raises(ConfigError, match="'converter': use one of auto, native, python"):
        load_settings(env={"JUNJO_CONVERTER": "c"})


def test_an_old_index_workers_key_is_ignored_with_a_warning(tmp_path: Path, caplog):
    """A junjo.toml written for a version with the conversion worker still loads."""
    toml = tmp_path / "junjo.toml"
    toml.write_text("index_workers = 1\nport = 8080\n")
    with caplog.at_level("WARNING", logger="junjo.config"):
        settings = load_settings(env={}, config_file=toml)
    assert settings.port == 8080
    (record,) = caplog.records
    assert "setting 'index_workers' is ignored" in record.getMessage()


def test_converter_native_without_the_extension_stops_serve_with_the_reason(
    tmp_path: Path, monkeypatch
):
    from junjo.features.ingest.runtime import checked_converter
    from junjo.features.spans import native

    monkeypatch.setattr(native, "_module", None)
    monkeypatch.setattr(native, "_why", "the C extension is not built: no compiler")
    settings = load_settings(env={"JUNJO_CONVERTER": "native"}, config_file=Path(os.devnull))
    with pytest.raises(ConfigError, match=r"setting 'converter' is 'native' but python \(the C"):
        checked_converter(settings)
    checked_converter(load_settings(env={}, config_file=Path(os.devnull)))  # auto: python

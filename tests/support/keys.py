"""API keys in a data dir's control database, made through the service, for tests that
export to or read from a server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from junjo.config import Settings
from junjo.features.api_keys.service import create_key
from junjo.kernel.control_db import ControlDB
from junjo.kernel.principal import Principal


@dataclass(frozen=True)
class Keys:
    ingest: str
    ingest_id: str
    read: str
    control: ControlDB  # the database they are in, for a test that changes them


def make_keys(data_dir: Path) -> Keys:
    """An ingest key and a read key; the data dir is created (private) if need be."""
    settings = Settings(data_dir=data_dir)
    settings.ensure_data_dir()
    control = ControlDB(settings.control_db_path)
    ingest = create_key(control.db, Principal.operator(), "exporter", "ingest")
    read = create_key(control.db, Principal.operator(), "reader", "read")
    return Keys(ingest.key, ingest.api_key.id, read.key, control)

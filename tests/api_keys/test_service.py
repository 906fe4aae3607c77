import re
import subprocess
import sys
import threading
import time

import pytest

from junjo.features.api_keys import service
from junjo.features.api_keys.service import KeyVerifier
from junjo.kernel.control_db import ControlDB
from junjo.kernel.errors import InvalidInput, NotFound, PermissionDenied
from junjo.kernel.principal import Principal

OPERATOR = Principal.operator()


def test_key_format_and_storage(control: ControlDB):
    created = service.create_key(control.db, OPERATOR, "prod app")
    assert re.fullmatch(r"[A-Za-z0-9]{64}", created.key)
    assert len(created.api_key.id) == 21
    assert created.api_key.scope == "ingest"
    assert created.api_key.prefix == created.key[:8]
    dump = "\n".join(control.db.conn.iterdump())
    assert created.key not in dump  # only the hash is stored


def test_list_never_shows_the_key(control: ControlDB):
    created = service.create_key(control.db, OPERATOR, "one")
    service.create_key(control.db, OPERATOR, "two", "read")
    listed = service.list_keys(control.db, OPERATOR)
    assert [k.name for k in listed] == ["two", "one"]  # newest first
    assert [k.public()["key"] for k in listed] == [f"{k.prefix}..." for k in listed]
    assert created.key not in repr(listed)


@pytest.mark.parametrize(
    ("name", "scope"), [("", "ingest"), ("   ", "ingest"), (None, "ingest"), ("x", "admin")]
)
def test_bad_names_and_scopes(control: ControlDB, name, scope):
    with pytest.raises(InvalidInput):
        service.create_key(control.db, OPERATOR, name, scope)


def test_concurrent_creation_stays_unique(settings, control: ControlDB):
    keys: list[service.CreatedApiKey] = []

    def create() -> None:
        db = ControlDB(settings.control_db_path).db
        for _ in range(10):
            keys.append(service.create_key(db, OPERATOR, "k"))

    threads = [threading.Thread(target=create) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 100
    assert len({k.key for k in keys}) == 100
    assert len({k.api_key.id for k in keys}) == 100
    assert len(service.list_keys(control.db, OPERATOR)) == 100


def test_verifier_accepts_and_records_use(settings, control: ControlDB):
    created = service.create_key(control.db, OPERATOR, "k", "read")
    verifier = KeyVerifier(settings.control_db_path)
    verified = verifier.verify(created.key)
    assert (verified.id, verified.scope) == (created.api_key.id, "read")
    assert verifier.verify(created.key[:-1] + "!") is None
    assert verifier.verify("") is None and verifier.verify(None) is None
    assert service.list_keys(control.db, OPERATOR)[0].last_used_at is not None


def test_deletion_from_another_process_is_seen_at_once(settings, control: ControlDB):
    created = service.create_key(control.db, OPERATOR, "k")
    verifier = KeyVerifier(settings.control_db_path)
    assert verifier.verify(created.key) is not None  # now cached
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        "c.execute('DELETE FROM api_keys WHERE id = ?', (sys.argv[2],)); c.commit()"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(settings.control_db_path), created.api_key.id],
        check=True,
    )
    started = time.monotonic()
    assert verifier.verify(created.key) is None
    assert time.monotonic() - started < 1


def test_delete_unknown_and_permissions(control: ControlDB):
    with pytest.raises(NotFound):
        service.delete_key(control.db, OPERATOR, "nope")
    reader = Principal("api_key", "k", "reader", scope="read")
    with pytest.raises(PermissionDenied):
        service.create_key(control.db, reader, "escalate")

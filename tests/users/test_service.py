import threading
from pathlib import Path

import pytest

from junjo.features.users import service
from junjo.kernel.control_db import ControlDB
from junjo.kernel.errors import BadRequest, Busy, Conflict, InvalidInput, NotFound, PermissionDenied
from junjo.kernel.principal import Principal

OPERATOR = Principal.operator()
READ_KEY = Principal("api_key", "k1", "ci reader", scope="read")


def test_emails_are_unique_regardless_of_case(control: ControlDB):
    service.create_user(control.db, OPERATOR, "Ada@Example.com", "password-1")
    with pytest.raises(Conflict):
        service.create_user(control.db, OPERATOR, "ada@example.COM", "password-2")
    assert [u.email for u in service.list_users(control.db, OPERATOR)] == ["ada@example.com"]


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@b", "two@@example.com", 42, None])
def test_invalid_emails_are_refused(control: ControlDB, email):
    with pytest.raises(InvalidInput, match="email"):
        service.create_user(control.db, OPERATOR, email, "password-1")


CONTROL_CHARACTER_EMAILS = [
    "a\x00b@example.com",  # NUL
    "a@example.com\x00",
    "a\x1b[31m@example.com",  # a terminal escape
    "a\x7f@example.com",
    "a\u202e@example.com",  # right-to-left override
    "a\u200b@example.com",  # zero-width space
]


@pytest.mark.parametrize("email", CONTROL_CHARACTER_EMAILS)
def test_emails_with_control_characters_are_refused(control: ControlDB, email):
    with pytest.raises(InvalidInput, match="control characters"):
        service.create_user(control.db, OPERATOR, email, "password-1")
    with pytest.raises(InvalidInput, match="control characters"):
        service.create_first_user(control.db, email, "password-1")
    assert not service.has_users(control.db)


def test_password_rules(control: ControlDB):
    with pytest.raises(InvalidInput, match="at least 8"):
        service.create_user(control.db, OPERATOR, "a@example.com", "short")
    with pytest.raises(InvalidInput, match="string"):
        service.create_user(control.db, OPERATOR, "a@example.com", 12345678)


def test_long_passwords_are_not_truncated(control: ControlDB):
    """bcrypt silently ignores bytes after 72; argon2 must not."""
    long_password = "x" * 100
    service.create_user(control.db, OPERATOR, "a@example.com", long_password)
    assert service.check_credentials(control.db, "a@example.com", long_password)
    assert service.check_credentials(control.db, "a@example.com", "x" * 99 + "y") is None


def test_check_credentials(control: ControlDB):
    created = service.create_user(control.db, OPERATOR, "a@example.com", "password-1")
    assert service.check_credentials(control.db, " A@example.com ", "password-1") == created
    assert service.check_credentials(control.db, "a@example.com", "password-2") is None
    assert service.check_credentials(control.db, "nobody@example.com", "password-1") is None
    stored = control.db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "password-1" not in stored


def test_first_user_race_creates_exactly_one(settings, control: ControlDB):
    results: list[object] = []
    barrier = threading.Barrier(20)

    def attempt(i: int) -> None:
        db = ControlDB(settings.control_db_path).db  # own connection, like separate requests
        barrier.wait()
        try:
            results.append(service.create_first_user(db, f"user{i}@example.com", "password-1"))
        except (BadRequest, Busy) as exc:  # Busy: more hashes at once than the gate admits
            results.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [r for r in results if isinstance(r, service.User)]
    assert len(created) == 1
    assert len(results) == 20
    assert service.count_users(control.db) == 1


def test_last_user_cannot_be_deleted(control: ControlDB):
    first = service.create_user(control.db, OPERATOR, "a@example.com", "password-1")
    second = service.create_user(control.db, OPERATOR, "b@example.com", "password-1")
    service.delete_user(control.db, OPERATOR, second.id)
    with pytest.raises(Conflict, match="last user"):
        service.delete_user(control.db, OPERATOR, first.id)
    with pytest.raises(NotFound):
        service.delete_user(control.db, OPERATOR, "no-such-id")


def test_password_change_advances_the_session_revision(control: ControlDB):
    user = service.create_user(control.db, OPERATOR, "a@example.com", "password-1")
    service.change_password(control.db, OPERATOR, user.id, "password-2")
    assert service.get_user(control.db, user.id).session_revision == user.session_revision + 1
    assert service.check_credentials(control.db, "a@example.com", "password-2")


def test_data_layer_refuses_a_read_key(control: ControlDB):
    """Authorization holds below HTTP: a read-scope key cannot manage users."""
    with pytest.raises(PermissionDenied):
        service.list_users(control.db, READ_KEY)
    with pytest.raises(PermissionDenied):
        service.create_user(control.db, READ_KEY, "a@example.com", "password-1")


def test_find_user_by_email_or_id(control: ControlDB, tmp_path: Path):
    user = service.create_user(control.db, OPERATOR, "a@example.com", "password-1")
    assert service.find_user(control.db, OPERATOR, "A@EXAMPLE.COM") == user
    assert service.find_user(control.db, OPERATOR, user.id) == user


def test_a_user_cannot_delete_themselves(control: ControlDB):
    first = service.create_user(control.db, OPERATOR, "a@example.com", "password-1")
    second = service.create_user(control.db, OPERATOR, "b@example.com", "password-1")
    me = Principal("user", first.id, first.email)
    with pytest.raises(Conflict, match="cannot delete yourself"):
        service.delete_user(control.db, me, first.id)
    assert service.get_user(control.db, first.id) is not None
    service.delete_user(control.db, me, second.id)  # another user: yes
    assert service.count_users(control.db) == 1

"""Users: create, list, delete, change password, check credentials.

Emails are compared case-insensitively (the column is ``COLLATE NOCASE``) and stored
lower-cased. Every change to a user's credentials advances ``session_revision``, which
invalidates that user's existing session cookies at once.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from junjo.features.users.passwords import check_password_rules, hash_password, verify_password
from junjo.kernel.errors import BadRequest, Conflict, InvalidInput, NotFound, PermissionDenied
from junjo.kernel.ids import new_id
from junjo.kernel.migrations import utc_now
from junjo.kernel.principal import Principal
from junjo.kernel.transaction import transaction

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Control (NUL, ESC...), format (bidi overrides, zero-width) and surrogate code points: an
# email holding one cannot be typed, would garble a terminal or the UI, or spoof another.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs"}


@dataclass(frozen=True)
class User:
    id: str
    email: str
    is_active: bool
    created_at: str
    updated_at: str
    session_revision: int

    def public(self) -> dict[str, Any]:
        """The JSON shape of Junjo AI Studio's user list (never the password hash)."""
        return {
            "id": self.id,
            "email": self.email,
            "is_active": self.is_active,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


_COLUMNS = "id, email, is_active, created_at, updated_at, session_revision"


def _user(row: tuple[Any, ...]) -> User:
    return User(row[0], row[1], bool(row[2]), row[3], row[4], row[5])


def normalize_email(email: object) -> str:
    if not isinstance(email, str):
        raise InvalidInput("email: must be a string")
    email = email.strip().lower()
    if len(email) > 254:
        raise InvalidInput("email: not a valid email address")
    if any(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in email):
        raise InvalidInput("email: must not contain control characters")
    if not _EMAIL.match(email):
        raise InvalidInput("email: not a valid email address")
    return email


def has_users(db: sqlite_utils.Database) -> bool:
    return bool(db.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0])


def count_users(db: sqlite_utils.Database) -> int:
    count: int = db.execute("SELECT count(*) FROM users").fetchone()[0]
    return count


def _insert(db: sqlite_utils.Database, email: str, password_hash: str) -> User:
    now = utc_now()
    user_id = new_id()
    try:
        db.execute(
            "INSERT INTO users (id, email, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, email, password_hash, now, now),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict("A user with this email already exists") from exc
    return User(user_id, email, True, now, now, 0)


def create_user(db: sqlite_utils.Database, actor: Principal, email: str, password: str) -> User:
    actor.require_admin()
    email = normalize_email(email)
    return _insert(db, email, hash_password(password))


def create_first_user(db: sqlite_utils.Database, email: str, password: str) -> User:
    """Create the first user, or fail if any user exists, atomically.

    The count and the insert share one ``BEGIN IMMEDIATE`` transaction, which takes
    SQLite's write lock first, so concurrent attempts (threads or processes) serialize
    and exactly one of them finds the table empty.
    """
    email = normalize_email(email)
    password_hash = hash_password(password)  # slow; done before taking the lock
    with transaction(db.conn, "BEGIN IMMEDIATE"):
        if has_users(db):
            raise BadRequest("Users already exist, cannot create first user")
        return _insert(db, email, password_hash)


def list_users(db: sqlite_utils.Database, actor: Principal) -> list[User]:
    actor.require_admin()
    rows = db.execute(f"SELECT {_COLUMNS} FROM users ORDER BY created_at, email").fetchall()
    return [_user(row) for row in rows]


def get_user(db: sqlite_utils.Database, user_id: str) -> User | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
    return _user(row) if row else None


def find_user(db: sqlite_utils.Database, actor: Principal, id_or_email: str) -> User:
    """Look a user up by id or by email (the CLI accepts either)."""
    actor.require_admin()
    row = db.execute(
        f"SELECT {_COLUMNS} FROM users WHERE id = ? OR email = ?",
        (id_or_email, id_or_email.strip().lower()),
    ).fetchone()
    if row is None:
        raise NotFound("User not found")
    return _user(row)


def delete_user(db: sqlite_utils.Database, actor: Principal, user_id: str) -> None:
    """Delete a user; the last user cannot be deleted (that would reopen first-user setup),
    nor can a user delete themselves (they would be signed out mid-click, and another
    user should see an account go)."""
    actor.require_admin()
    if actor.kind == "user" and actor.id == user_id:
        raise Conflict("You cannot delete yourself; another user can")
    with transaction(db.conn, "BEGIN IMMEDIATE"):
        if get_user(db, user_id) is None:
            raise NotFound("User not found")
        if count_users(db) <= 1:
            raise Conflict("Cannot delete the last user")
        db.execute("DELETE FROM users WHERE id = ?", (user_id,))


def change_password(
    db: sqlite_utils.Database, actor: Principal, user_id: str, new_password: str
) -> None:
    """Set a new password and sign the user out everywhere."""
    actor.require_admin()
    password_hash = hash_password(new_password)
    cursor = db.execute(
        "UPDATE users SET password_hash = ?, updated_at = ?,"
        " session_revision = session_revision + 1 WHERE id = ?",
        (password_hash, utc_now(), user_id),
    )
    if cursor.rowcount == 0:
        raise NotFound("User not found")


def change_own_password(
    db: sqlite_utils.Database, actor: Principal, current_password: object, new_password: object
) -> User:
    """A signed-in user changes their password, proving the current one. Every session of
    theirs ends (the revision advances); the caller issues this one a fresh cookie for the
    returned user. Raises InvalidInput for a new password that breaks the rules (checked
    first: it says nothing about the current one) and PermissionDenied for a wrong one."""
    if actor.kind != "user":
        raise BadRequest(
            "Only a signed-in user has a password to change; use `junjo user passwd` instead"
        )
    if not isinstance(current_password, str):
        raise InvalidInput("current_password: must be a string")
    new_password = check_password_rules(new_password)
    if new_password == current_password:
        raise InvalidInput("new_password: must differ from the current password")
    row = db.execute("SELECT password_hash FROM users WHERE id = ?", (actor.id,)).fetchone()
    if not verify_password(row[0] if row else None, current_password) or row is None:
        raise PermissionDenied("The current password is not correct")
    # Only over the hash just checked: of two changes racing with the same current
    # password, one wins and the other is told, rather than both "succeeding".
    changed = db.execute(
        "UPDATE users SET password_hash = ?, updated_at = ?,"
        " session_revision = session_revision + 1 WHERE id = ? AND password_hash = ?",
        (hash_password(new_password), utc_now(), actor.id, row[0]),
    )
    user = get_user(db, actor.id)
    if changed.rowcount == 0 or user is None:
        raise Conflict("The password was changed or the user deleted meanwhile")
    return user


def revoke_sessions(db: sqlite_utils.Database, user_id: str) -> None:
    """Invalidate every session cookie issued to this user so far (sign-out)."""
    db.execute("UPDATE users SET session_revision = session_revision + 1 WHERE id = ?", (user_id,))


def check_credentials(db: sqlite_utils.Database, email: object, password: object) -> User | None:
    """The active user with this email and password, else None (constant work either way)."""
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    row = db.execute(
        f"SELECT {_COLUMNS}, password_hash FROM users WHERE email = ?", (email.strip().lower(),)
    ).fetchone()
    password_hash = row[6] if row else None
    if not verify_password(password_hash, password) or row is None or not row[2]:
        return None
    return _user(row[:6])

"""People who sign in: accounts, passwords (argon2id), ``junjo user``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    import typer
    from starlette.routing import BaseRoute

    from junjo.features.users.http import CREDENTIALS as CREDENTIALS
    from junjo.features.users.service import (
        User as User,
    )
    from junjo.features.users.service import (
        change_own_password as change_own_password,
    )
    from junjo.features.users.service import (
        check_credentials as check_credentials,
    )
    from junjo.features.users.service import (
        create_first_user as create_first_user,
    )
    from junjo.features.users.service import (
        get_user as get_user,
    )
    from junjo.features.users.service import (
        has_users as has_users,
    )
    from junjo.features.users.service import (
        normalize_email as normalize_email,
    )
    from junjo.features.users.service import (
        revoke_sessions as revoke_sessions,
    )
    from junjo.kernel.state import AppState

__getattr__ = public_face(__name__)


def _routes() -> Sequence[BaseRoute]:
    from junjo.features.users.http import routes

    return routes


def _commands(cli: typer.Typer) -> None:
    from junjo.features.users.cli import app

    cli.add_typer(app, name="user", help="Manage users.")


@contextlib.contextmanager
def _lifespan(state: AppState) -> Iterator[None]:
    from junjo.features.users.passwords import cheap_hashing_notice, limit_concurrent_checks

    limit_concurrent_checks(state.settings.password_check_concurrency)
    if notice := cheap_hashing_notice():
        state.notices.append(notice)
    yield


FEATURE = Feature("users", routes=_routes, commands=_commands, lifespan=_lifespan)

"""Who is asking. Every service call that reads or changes data takes a Principal and
checks it, so authorization holds in the data layer and not only at the HTTP door."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from junjo.kernel.errors import PermissionDenied

PrincipalKind = Literal["user", "api_key", "operator"]


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: str  # user id, API key id, or "operator"
    label: str  # email, key name, or "local operator"
    scope: str = "admin"  # "admin" for people and the operator; the key's scope otherwise

    @classmethod
    def operator(cls) -> Principal:
        """Someone with access to the data dir: the CLI, or a holder of the local token."""
        return cls("operator", "operator", "local operator")

    @property
    def can_read(self) -> bool:
        return self.scope in ("admin", "read")

    @property
    def can_administer(self) -> bool:
        return self.scope == "admin"

    def require_read(self) -> None:
        if not self.can_read:
            raise PermissionDenied("this credential may not read data")

    def require_admin(self) -> None:
        if not self.can_administer:
            raise PermissionDenied("only a signed-in user may manage users and API keys")

"""Session cookies: a signed (itsdangerous) ``{user id, session revision}`` pair.

The cookie holds no email and no role. On every request the user is loaded and the
revision compared, so deleting a user, changing their password or signing out (each
advances the revision) revokes every cookie issued before, at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "junjo_session"
_SALT = "junjo.session.v1"


@dataclass(frozen=True)
class SessionClaim:
    user_id: str
    revision: int


class SessionSigner:
    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age_seconds = max_age_seconds

    def sign(self, claim: SessionClaim) -> str:
        return self._serializer.dumps([claim.user_id, claim.revision])

    def read(self, cookie: str | None) -> SessionClaim | None:
        """The claim in a valid, unexpired cookie; None for anything else."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            value = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except (BadSignature, ValueError, TypeError):
            return None
        match value:
            case [str() as user_id, int() as revision]:
                return SessionClaim(user_id, revision)
        return None

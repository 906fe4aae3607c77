"""Random identifiers and secrets, all from the OS CSPRNG (``secrets``)."""

import secrets
import string

_ID_ALPHABET = string.ascii_letters + string.digits + "_-"
_KEY_ALPHABET = string.ascii_letters + string.digits


def new_id(length: int = 21) -> str:
    """A nanoid-style id (21 URL-safe characters, ~126 bits), as Junjo AI Studio uses.

    It starts with a letter or digit: an id starting with "-" reads as an option on a command
    line (``junjo keys delete -x...`` failed), and ids are typed into commands."""
    first = secrets.choice(_KEY_ALPHABET)
    return first + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length - 1))


def new_api_key(length: int = 64) -> str:
    """An API key: 64 alphanumeric characters (~381 bits)."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(length))

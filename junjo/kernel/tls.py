"""TLS without a proxy: the certificate and key files of ``tls_cert`` / ``tls_key``.

``junjo serve`` checks them before it binds a port, so a missing, unreadable, encrypted or
mismatched file is one clear error at start instead of a TLS failure at the first client
(or, for an encrypted key, OpenSSL prompting for a passphrase on a service's terminal).
The same PEM bytes then serve HTTPS (uvicorn) and gRPC over TLS on the same ports.

``pinned_client_context`` is how the CLI on this machine talks to the local server it found
in ``server.json``: it trusts exactly the server's own certificate (the first one of its
file), whatever CA issued it and whichever name it was issued for.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import ssl
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from junjo.config import Settings

_CERT_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)
_KEY_HEADER = re.compile(rb"-----BEGIN (?:(RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----")


class TlsFileError(ValueError):
    """A TLS file junjo cannot use; the message names the setting, the file and the fix."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    cert_pem: bytes  # the certificate chain, leaf first
    key_pem: bytes
    # Warnings for the banner and the log: the key readable by others, an expired cert.
    warnings: tuple[str, ...] = ()


def tls_files(settings: Settings) -> TlsFiles | None:
    """The checked files of ``settings``; None when TLS is off. Raises TlsFileError."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    return check_tls_files(settings.tls_cert, settings.tls_key)


def check_tls_files(cert: Path, key: Path) -> TlsFiles:
    """Read both files and load them as a server would; TlsFileError says what is wrong."""
    cert_pem = _read(cert, "tls_cert", "certificate")
    key_pem = _read(key, "tls_key", "private key")
    if not _CERT_BLOCK.search(cert_pem):
        raise TlsFileError(
            f"setting 'tls_cert': {cert} holds no PEM certificate"
            " (a '-----BEGIN CERTIFICATE-----' block)"
        )
    header = _KEY_HEADER.search(key_pem)
    if header is None:
        raise TlsFileError(
            f"setting 'tls_key': {key} holds no PEM private key"
            " (a '-----BEGIN PRIVATE KEY-----' block)"
        )
    if header.group(1) == b"ENCRYPTED" or b"Proc-Type: 4,ENCRYPTED" in key_pem:
        raise TlsFileError(
            f"setting 'tls_key': {key} is encrypted with a passphrase, which a server"
            f" cannot type; write it decrypted (openssl pkey -in {key} -out KEY.pem,"
            " then chmod 600 KEY.pem) and point tls_key at that"
        )
    _load_as_server(cert, key)
    warnings = tuple(w for w in (_key_exposure(key), _expiry(cert)) if w)
    return TlsFiles(cert, key, cert_pem, key_pem, warnings)


def _read(path: Path, setting: str, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsFileError(f"setting {setting!r}: {what} file not found: {path}") from None
    except IsADirectoryError:
        raise TlsFileError(f"setting {setting!r}: {path} is a directory, not a file") from None
    except PermissionError:
        raise TlsFileError(
            f"setting {setting!r}: cannot read {path} as user {_user()}"
            " (permission denied): let this user read it"
        ) from None
    except OSError as exc:
        raise TlsFileError(f"setting {setting!r}: cannot read {path}: {exc}") from None


def _load_as_server(cert: Path, key: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def no_passphrase() -> str:  # never prompt: a key that asks is refused above
        raise TlsFileError(f"setting 'tls_key': {key} asks for a passphrase")

    try:
        context.load_cert_chain(cert, key, password=no_passphrase)
    except ssl.SSLError as exc:
        reason = str(exc.reason or exc)
        if "KEY_VALUES_MISMATCH" in reason or "key values mismatch" in str(exc):
            raise TlsFileError(
                f"settings 'tls_cert' and 'tls_key': the private key {key} does not belong"
                f" to the certificate {cert} (the first certificate of tls_cert must be the"
                " server's own, and tls_key its key)"
            ) from None
        raise TlsFileError(
            f"settings 'tls_cert' and 'tls_key': cannot use {cert} with {key}: {exc}"
        ) from None


def _key_exposure(key: Path) -> str | None:
    """A warning when users other than the owner may read the private key."""
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(key.stat().st_mode)
        if mode & 0o044:
            return (
                f"TLS private key {key} is readable by other users (mode {mode:04o}):"
                f" run chmod 600 {key}"
            )
    return None


def _expiry(cert: Path) -> str | None:
    """A warning when the certificate has expired or is not valid yet (clients refuse it)."""
    # The ssl module has no public certificate parser; CPython's own test helper reads one.
    decode = getattr(importlib.import_module("_ssl"), "_test_decode_cert", None)
    if decode is None:
        return None
    try:
        fields = decode(str(cert))
        not_before = ssl.cert_time_to_seconds(fields["notBefore"])
        not_after = ssl.cert_time_to_seconds(fields["notAfter"])
    except (ssl.SSLError, KeyError, ValueError, OSError):
        return None
    now = time.time()
    if now > not_after:
        return f"TLS certificate {cert} expired on {fields['notAfter']}: clients will refuse it"
    if now < not_before:
        return f"TLS certificate {cert} is not valid before {fields['notBefore']}"
    return None


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())


def pinned_client_context(cert_file: str) -> ssl.SSLContext:
    """A client context that trusts exactly the first certificate of ``cert_file``.

    For the CLI talking to the server on this machine: that certificate may be issued by a
    CA this machine does not trust (or be self-signed), and for a name other than the
    127.0.0.1 the CLI connects to. Only that very certificate is an anchor (OpenSSL's
    partial-chain flag), so the name check can be left out safely; trusting the whole file
    would trust everything its intermediate CA ever signed, for any name.
    """
    match = _CERT_BLOCK.search(Path(cert_file).read_bytes())
    if match is None:
        raise TlsFileError(f"{cert_file} holds no PEM certificate")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=match.group(0).decode("ascii"))
    return context

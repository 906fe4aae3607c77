"""A real ``junjo serve`` subprocess on free ports, for tests that need the whole thing."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from junjo.features.users.passwords import TEST_CHEAP_HASH_ENV
from tests.support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def junjo_command(*args: str) -> list[str]:
    """``junjo ARGS`` run with the interpreter running the tests."""
    return [sys.executable, "-m", "junjo", *args]


# For ``env=`` of a test that measures what the real argon2 cost does (memory, time).
REAL_PASSWORD_HASHING = {TEST_CHEAP_HASH_ENV: "0"}


def developer_settings() -> set[str]:
    """The JUNJO_* variables of the developer's environment, kept from the code under test
    (the test run's cheap password hashing, tests/conftest.py, is not one of them)."""
    return {name for name in os.environ if name.startswith("JUNJO_")} - {TEST_CHEAP_HASH_ENV}


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without ``developer_settings()``, then ``extra``."""
    hidden = developer_settings()
    return {k: v for k, v in os.environ.items() if k not in hidden} | extra


class ServerProcess:
    """Starts ``junjo serve``; collects its stderr; waits until /health answers.

    ``open_files``: run it under that open-file limit (soft and hard). ``program``: the
    ``junjo`` to run (default ``junjo_command()``), e.g. a console script. ``tls_ca``: the
    server speaks HTTPS (its --tls-cert is given in ``extra_args``) with a certificate this
    CA file signed; ``url`` is then https:// and the clients here trust that CA.
    """

    def __init__(
        self,
        data_dir: Path,
        *extra_args: str,
        env: dict[str, str] | None = None,
        open_files: int | None = None,
        umask: int = -1,
        program: list[str] | None = None,
        tls_ca: Path | None = None,
    ):
        self.data_dir = data_dir
        self.tls_ca = tls_ca
        self.verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=tls_ca) if tls_ca else True
        )
        self.program = program or junjo_command()
        self.open_files = open_files
        self.umask = umask  # -1: inherit the test process's
        self.port = free_port()
        self.grpc_port = free_port()
        self.extra_args = extra_args
        self.env = clean_env(**(env or {}))
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._clients: list[httpx.Client] = []

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://127.0.0.1:{self.port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self, timeout: float = 30) -> ServerProcess:
        # A free port is free when chosen, not when junjo binds it: an outgoing connection
        # (ephemeral ports are the same range) may take it in between. Then: other ports.
        for _ in range(2):
            try:
                return self._start(timeout)
            except RuntimeError as error:
                if "address already in use" not in str(error):
                    raise
                self.port, self.grpc_port = free_port(), free_port()
        return self._start(timeout)

    def _start(self, timeout: float) -> ServerProcess:
        args = [
            *self.program,
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--grpc-port",
            str(self.grpc_port),
            *self.extra_args,
        ]
        if self.open_files is not None:  # a shell sets the limit, then becomes junjo (exec)
            args = ["/bin/sh", "-c", f'ulimit -n {self.open_files} && exec "$@"', "sh", *args]
        self.output = []
        self.proc = subprocess.Popen(
            args,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=self.env,
            umask=self.umask,
        )
        threading.Thread(target=self._collect, args=(self.proc,), daemon=True).start()
        try:
            wait_until(self._healthy, timeout, interval=0.05)
        except AssertionError:
            self.kill()
            raise RuntimeError(f"junjo serve did not become healthy:\n{self.log}") from None
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"junjo serve exited early:\n{self.log}")
        try:
            return httpx.get(self.url + "/health", timeout=1, verify=self.verify).status_code == 200
        except httpx.HTTPError:
            return False

    def _collect(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        with proc.stderr:  # closed at the end of the output (the process has exited)
            for line in proc.stderr:
                self.output.append(line)

    @property
    def log(self) -> str:
        return "".join(self.output)

    def ingest_status(self, read_key: str) -> dict:
        """``GET /api/v1/ingest/status``: accepted, indexed, backlog, in flight."""
        headers = {"Authorization": f"Bearer {read_key}"}
        url = self.url + "/api/v1/ingest/status"
        return httpx.get(url, headers=headers, timeout=10, verify=self.verify).json()

    @property
    def setup_token(self) -> str:
        """The token the banner printed (its line may still be in the pipe: wait for it)."""
        match = wait_until(
            lambda: re.search(r"Setup token: (\S+)", self.log),
            timeout=10,
            message=lambda: f"no setup token printed:\n{self.log}",
        )
        return match.group(1)

    def client(self, address: str = "127.0.0.1", timeout: float = 30) -> httpx.Client:
        """An HTTP client of this server whose connections come from ``address`` (any of
        127.0.0.0/8 works on Linux, so one test can play several clients); closed when the
        server stops."""
        transport = httpx.HTTPTransport(local_address=address, verify=self.verify)
        self._clients.append(httpx.Client(base_url=self.url, transport=transport, timeout=timeout))
        return self._clients[-1]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.kill()

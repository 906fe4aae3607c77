"""``junjo doctor``: checks what a running server needs (ports, data dir permissions, disk,
schema versions, the WAL backlog, LLM providers, TLS files) and says what to fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from junjo.kernel.feature import Feature, public_face

if TYPE_CHECKING:
    import typer

    from junjo.features.doctor.service import Check as Check
    from junjo.features.doctor.service import diagnose as diagnose

__getattr__ = public_face(__name__)


def _commands(cli: typer.Typer) -> None:
    from junjo.features.doctor.cli import doctor

    cli.command("doctor")(doctor)


FEATURE = Feature("doctor", commands=_commands)

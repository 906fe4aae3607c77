"""How this junjo was installed, for ``junjo --version --verbose`` and ``junjo doctor``."""

from __future__ import annotations

import json
import os
import platform
import sys
import sysconfig

from junjo import DISTRIBUTION

# The zipapp's launcher module (scripts/zipapp_launcher.py), imported before junjo.
ZIPAPP_LAUNCHER = "_junjo_pyz"


def zipapp_path() -> str | None:
    """The .pyz this process runs from, if it runs from one."""
    launcher = sys.modules.get(ZIPAPP_LAUNCHER)
    return getattr(launcher, "ARCHIVE", None) if launcher else None


def install_kind() -> str:
    """``zipapp (PATH)``, ``editable (SOURCE)``, ``wheel`` or ``source tree``."""
    archive = zipapp_path()
    if archive:
        return f"zipapp ({archive})"
    from importlib import metadata

    try:
        direct_url = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return "source tree (not installed)"
    if direct_url:
        info = json.loads(direct_url)
        if info.get("dir_info", {}).get("editable"):
            return f"editable ({info.get('url', '').removeprefix('file://')})"
    return "wheel"


def describe() -> list[str]:
    """The lines of ``junjo --version --verbose`` after the first."""
    lines = [
        f"Python    {platform.python_implementation()} {platform.python_version()}"
        f" ({sys.executable})",
        f"Platform  {sysconfig.get_platform()}",
        f"Install   {install_kind()}",
    ]
    if zipapp_path():
        lines.append(f"Unpacked  {os.environ.get('SHIV_ROOT', '')} (safe to delete; see README)")
    from junjo.features.spans import native  # here: it loads protobuf, --version alone must not

    lines.append(f"Converter {native.describe()}")
    return lines

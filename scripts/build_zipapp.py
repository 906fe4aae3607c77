"""Build the single-file zipapp of junjo-server with shiv (``make dist`` runs it).

    python scripts/build_zipapp.py dist/junjo_server-0.1.0-py3-none-any.whl --outdir dist
        [pip install options, e.g. --no-index --find-links .cache/dist-wheels]

Writes ``dist/junjo-server-<version>-<python tag>-<platform>.pyz``, e.g.
``junjo-server-0.1.0-cp311-linux_x86_64.pyz``: the wheel and its dependencies, installed
for the Python running this script, which is the only Python the archive then runs on.
Its first code is scripts/zipapp_launcher.py (checks the Python, picks and tidies the
unpack cache); shiv's bootstrap then unpacks the dependencies and calls ``junjo.cli:main``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from shiv import __version__ as shiv_version
from shiv import builder
from shiv.bootstrap.environment import Environment
from shiv.constants import BUILD_AT_TIMESTAMP_FORMAT

LAUNCHER = Path(__file__).with_name("zipapp_launcher.py")


def python_tag() -> str:
    implementation = {"cpython": "cp", "pypy": "pp"}.get(sys.implementation.name, "py")
    return f"{implementation}{sys.version_info.major}{sys.version_info.minor}"


def platform_tag() -> str:
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def archive_name(version: str) -> str:
    return f"junjo-server-{version}-{python_tag()}-{platform_tag()}.pyz"


def wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def launcher_source(name: str, build_id: str) -> str:
    values = {
        "@BUILD_ID@": build_id,
        "@ARCHIVE_NAME@": name,
        "@PYTHON@": f"{sys.version_info.major}.{sys.version_info.minor}",
        "@IMPLEMENTATION@": sys.implementation.name,
        "@PLATFORM@": sysconfig.get_platform(),
    }
    source = LAUNCHER.read_text()
    for marker, value in values.items():
        source = source.replace(f'"{marker}"', repr(value))
    return source


def install(wheel: Path, site_packages: Path, pip_args: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
    command += ["--disable-pip-version-check", "--target", str(site_packages)]
    subprocess.run([*command, *pip_args, str(wheel)], check=True)
    # Console scripts point at the build machine's python: the archive has its own entry.
    for leftover in ("bin",):
        for path in sorted((site_packages / leftover).glob("*")):
            path.unlink()


def build(wheel: Path, outdir: Path, pip_args: list[str], *, compressed: bool = True) -> Path:
    name = archive_name(wheel_version(wheel))
    target = outdir / name
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="junjo-zipapp-") as staging:
        site_packages = Path(staging) / "site-packages"
        install(wheel, site_packages, pip_args)
        env = Environment(
            built_at=datetime.now(UTC).strftime(BUILD_AT_TIMESTAMP_FORMAT),
            shiv_version=shiv_version,
            entry_point="junjo.cli:main",  # also in zipapp_launcher.py's fast path
            # Python writes bytecode for the modules it imports: compiling every module up
            # front (shiv's default) would make the first run take a minute.
            compile_pyc=False,
        )
        builder.create_archive(
            [site_packages], target, "/usr/bin/env python3", "_junjo_pyz:main", env, compressed
        )
    with zipfile.ZipFile(target, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_junjo_pyz.py", launcher_source(name, str(env.build_id)))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--outdir", type=Path, default=Path("dist"))
    parser.add_argument(
        "--uncompressed",
        action="store_true",
        help="store files as they are (3x the size; faster to build and to unpack: tests)",
    )
    args, pip_args = parser.parse_known_args()
    target = build(args.wheel, args.outdir, pip_args, compressed=not args.uncompressed)
    size = target.stat().st_size / 2**20
    print(f"{target} ({size:.0f} MiB)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Vendors the web UI's libraries from the npm registry into junjo/web/static/vendor/.

    .venv/bin/python scripts/vendor_web.py

For each pinned package: reads its registry document, downloads the tarball, refuses it
unless its sha512 matches the registry's ``dist.integrity``, and copies only the ESM builds
the UI loads, with the licence file, into ``vendor/<name>-<version>/`` (a new version is a
new path, which is why those files are cached as immutable). ``vendor/VENDORED.json``
records name, version, licence, sha512 and the files. Commit what it writes; no Node.js.

Bare imports are rewritten to relative paths (``from"preact"`` in preact's hooks), since
resolving them would need an import map, an inline script the CSP forbids.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parents[1] / "junjo" / "web" / "static" / "vendor"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    # tarball member (under package/) -> file name in vendor/<name>-<version>/
    files: dict[str, str]
    rewrites: dict[str, str] = field(default_factory=dict)  # text -> replacement

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"


PACKAGES = [
    Package(
        "preact",
        "11.2.0",
        {
            "dist/preact.mjs": "preact.mjs",
            "hooks/dist/hooks.mjs": "hooks.mjs",
            "LICENSE": "LICENSE",
        },
        rewrites={'from"preact"': 'from"./preact.mjs"'},
    ),
    Package("htm", "3.1.1", {"dist/htm.mjs": "htm.mjs", "LICENSE": "LICENSE"}),
]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def verified_tarball(package: Package) -> tuple[dict, bytes]:
    """The registry document of this version and its tarball, checked against dist.integrity."""
    document = json.loads(fetch(f"{REGISTRY}/{package.name}/{package.version}"))
    tarball = fetch(document["dist"]["tarball"])
    algorithm, expected = document["dist"]["integrity"].split("-", 1)
    if algorithm != "sha512":
        raise SystemExit(f"{package.folder}: the registry gives {algorithm}, not sha512")
    actual = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{package.folder}: tarball sha512 {actual} != registry {expected}")
    return document, tarball


def extract(package: Package, tarball: bytes) -> list[str]:
    """Writes the package's chosen files; returns their paths under vendor/."""
    folder = VENDOR / package.folder
    folder.mkdir(parents=True)
    written = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member, name in package.files.items():
            source = archive.extractfile(f"package/{member}")
            if source is None:
                raise SystemExit(f"{package.folder}: {member} is not a file")
            text = source.read().decode()
            for old, new in package.rewrites.items():
                if member.endswith(".mjs") and old in text:
                    text = text.replace(old, new)
            (folder / name).write_text(text)
            written.append(f"{package.folder}/{name}")
    for old in package.rewrites:
        if any(old in (folder / name).read_text() for name in package.files.values()):
            raise SystemExit(f"{package.folder}: {old!r} left unrewritten")
    return written


def main() -> None:
    shutil.rmtree(VENDOR, ignore_errors=True)
    VENDOR.mkdir(parents=True)
    records = []
    for package in PACKAGES:
        document, tarball = verified_tarball(package)
        records.append(
            {
                "name": package.name,
                "version": package.version,
                "license": document["license"],
                "source": document["dist"]["tarball"],
                "sha512": document["dist"]["integrity"],
                "files": extract(package, tarball),
                "rewrites": package.rewrites,
            }
        )
        print(f"{package.folder}: {document['license']}, {document['dist']['integrity']}")
    (VENDOR / "VENDORED.json").write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()

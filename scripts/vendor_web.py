#!/usr/bin/env python3
"""Vendors the web UI's libraries from the npm registry into junjo/features/web/static/vendor/.

    .venv/bin/python scripts/vendor_web.py

For each pinned package: reads its registry document, downloads the tarball, refuses it
unless its sha512 matches the registry's ``dist.integrity``, and copies only the ESM builds
the UI loads, with the licence file, into ``vendor/<name>-<version>/`` (test-only packages,
axe-core, into ``tests/web/vendor/``, which the package does not ship) (a new version is a
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
REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "junjo" / "features" / "web" / "static" / "vendor"  # shipped with the package
TEST_VENDOR = REPO / "tests" / "web" / "vendor"  # used by the browser tests only


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    # tarball member (under package/) -> file name in vendor/<name>-<version>/
    files: dict[str, str]
    rewrites: dict[str, str] = field(default_factory=dict)  # text -> replacement
    root: Path = VENDOR

    @property
    def folder(self) -> str:
        return f"{self.name.rpartition('/')[2]}-{self.version}"  # @dagrejs/dagre: dagre-3.1.3


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
    # The workflow debugger's graph layout (loaded by that page only; docs/web.md says why
    # dagre and not Mermaid). Self-contained ESM (graphlib bundled); the source map is not
    # shipped, so its comment goes.
    Package(
        "@dagrejs/dagre",
        "3.1.3",
        {"dist/dagre.esm.js": "dagre.mjs", "LICENSE": "LICENSE"},
        rewrites={"//# sourceMappingURL=dagre.esm.js.map": ""},
    ),
    # The accessibility checker the browser tests run on every page (tests/web/axe.py).
    Package(
        "axe-core",
        "4.14.1",
        {"axe.min.js": "axe.min.js", "LICENSE": "LICENSE"},
        root=TEST_VENDOR,
    ),
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
    folder = package.root / package.folder
    folder.mkdir(parents=True)
    written = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member, name in package.files.items():
            source = archive.extractfile(f"package/{member}")
            if source is None:
                raise SystemExit(f"{package.folder}: {member} is not a file")
            text = source.read().decode()
            for old, new in package.rewrites.items():
                if member.endswith((".mjs", ".js")) and old in text:
                    text = text.replace(old, new)
            (folder / name).write_text(text)
            written.append(f"{package.folder}/{name}")
    for old in package.rewrites:
        if any(old in (folder / name).read_text() for name in package.files.values()):
            raise SystemExit(f"{package.folder}: {old!r} left unrewritten")
    return written


def main() -> None:
    for root in (VENDOR, TEST_VENDOR):
        vendor(root, [package for package in PACKAGES if package.root == root])


def vendor(root: Path, packages: list[Package]) -> None:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    records = []
    for package in packages:
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
    (root / "VENDORED.json").write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""The first code a junjo-server zipapp runs (``_junjo_pyz`` at the archive's root), before
shiv unpacks anything and before any dependency is imported.

scripts/build_zipapp.py fills in the ``@...@`` values when it builds the archive. This file
must run on any Python 3 (it is what tells a wrong one so), hence stdlib only and no syntax
newer than 3.6 (f-strings).

1. The archive's compiled dependencies (DuckDB, grpcio, argon2, ...) fit one Python minor
   version and platform: on another one, stop with a message naming both, not an
   ``ImportError`` from deep inside a dependency.
2. shiv unpacks the dependencies into a cache on first run. Ours is
   ``$XDG_CACHE_HOME/junjo-server/shiv`` (``~/.cache/junjo-server/shiv``; on macOS
   ``~/Library/Caches/junjo-server/shiv``); ``SHIV_ROOT`` overrides it. Each running
   archive holds a shared lock on its unpacked copy; at start the copies of other builds
   that no process holds are deleted, so an upgrade does not leave the old one behind.
"""

import contextlib
import fcntl
import os
import re
import shutil
import sys
import sysconfig

ARCHIVE_NAME = "@ARCHIVE_NAME@"
PYTHON = "@PYTHON@"  # "3.11"
IMPLEMENTATION = "@IMPLEMENTATION@"  # "cpython"
PLATFORM = "@PLATFORM@"  # sysconfig.get_platform(): "linux-x86_64"
BUILD_ID = "@BUILD_ID@"  # shiv's, in environment.json: names the unpacked copy
# Test-only: pretend the running Python is this version (tests/dist checks the refusal
# without a second Python installed). Not for users.
PRETEND_PYTHON = "_JUNJO_PYZ_TEST_PYTHON"

ENTRY_POINT = "junjo.cli:main"  # as in environment.json (scripts/build_zipapp.py)
SITE_DIRS = ("site-packages", "dist-packages")
_UNPACKED = re.compile(r".+_[0-9a-f]{64}$")  # shiv's <archive name>_<build id>
_held_locks = []  # open lock files: held until the process exits
ARCHIVE = None  # the .pyz this process runs (junjo.install reads it)


def main():
    global ARCHIVE
    refuse_wrong_python()
    ARCHIVE = os.path.realpath(sys.argv[0])
    root = cache_root()
    os.environ.setdefault("SHIV_ROOT", str(root))  # shiv reads it; children inherit it
    current = unpacked_dir(root)
    hold(current)
    remove_other_builds(root, current)
    site_packages = os.path.join(current, "site-packages")
    if os.path.isdir(site_packages) and not os.environ.get("SHIV_FORCE_EXTRACT"):
        run_unpacked(site_packages)
    import _bootstrap  # shiv's: unpacks (once, under its lock), then runs ENTRY_POINT

    _bootstrap.bootstrap()


def run_unpacked(site_packages):
    """What shiv's bootstrap does once this build is unpacked, without its cost: it opens
    the archive again to read environment.json (~50 ms for 12,000 entries) and imports
    hashlib. Our site-packages goes before the interpreter's, as shiv puts it."""
    import site

    length = len(sys.path)
    index = next((i for i, p in enumerate(sys.path) if os.path.basename(p) in SITE_DIRS), length)
    site.addsitedir(site_packages)
    sys.path = sys.path[:index] + sys.path[length:] + sys.path[index:length]
    module, _, function = ENTRY_POINT.partition(":")
    sys.exit(getattr(__import__(module, fromlist=[function]), function)())


def running_python():
    version = os.environ.get(PRETEND_PYTHON) or f"{sys.version_info[0]}.{sys.version_info[1]}"
    return sys.implementation.name, version, sysconfig.get_platform()


def refuse_wrong_python():
    implementation, version, platform = running_python()
    if (implementation, version, platform) == (IMPLEMENTATION, PYTHON, PLATFORM):
        return
    sys.stderr.write(
        f"Error: {ARCHIVE_NAME} needs {_pretty(IMPLEMENTATION)} {PYTHON} on {PLATFORM};"
        f" this is {_pretty(implementation)} {version} on {platform} ({sys.executable}).\n"
        f"Its compiled dependencies are built for that Python only. Run it with python{PYTHON}"
        f" (python{PYTHON} {ARCHIVE_NAME} serve), use the zipapp built for your Python, or"
        " install the wheel: pipx install junjo-server (any Python >= 3.11).\n"
    )
    sys.exit(1)


def _pretty(implementation):
    return {"cpython": "CPython", "pypy": "PyPy"}.get(implementation, implementation)


def cache_root():
    if os.environ.get("SHIV_ROOT"):
        return os.path.expanduser(os.environ["SHIV_ROOT"])
    if sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "junjo-server", "shiv")


def unpacked_dir(root):
    """Where shiv unpacks this archive: <root>/<archive file name>_<build id>. (The build
    id is written in here, not read from environment.json: opening the archive costs
    ~50 ms of every start, and shiv's bootstrap opens it anyway.)"""
    name = os.path.basename(os.path.realpath(sys.argv[0]))
    return os.path.join(root, f"{name}_{BUILD_ID}")


def _lock_path(unpacked):
    parent, name = os.path.split(unpacked)
    return os.path.join(parent, f".{name}.in-use")


def hold(unpacked):
    """A shared lock on this build's copy for as long as the process runs (before shiv
    unpacks it, so a cleaner never deletes a copy being unpacked or used)."""
    os.makedirs(os.path.dirname(unpacked), mode=0o700, exist_ok=True)
    path = _lock_path(unpacked)
    while True:
        handle = open(path, "a")  # noqa: SIM115 (kept open: the lock lasts the process)
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:  # a cleaner may have removed the file while we waited: lock the new one
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                break
        except OSError:
            pass
        handle.close()
    _held_locks.append(handle)


def remove_other_builds(root, current):
    """Delete the unpacked copies of other builds (older versions, a renamed archive) that
    no running process holds."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        path = os.path.join(root, name)
        if path == current or not _UNPACKED.match(name) or not os.path.isdir(path):
            continue
        try:
            with open(_lock_path(path), "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # in use: BlockingIOError
                shutil.rmtree(path, ignore_errors=True)
                os.unlink(_lock_path(path))
        except OSError:
            continue
        with contextlib.suppress(OSError):  # shiv's unpack lock of that copy
            os.unlink(os.path.join(root, f".{name}_lock"))

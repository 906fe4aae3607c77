"""Start-up times of what `make dist` builds, against the issue's bars (median of --runs):

- `junjo --help` from a venv with the wheel installed: <= 300 ms
- `python3 dist/junjo-server-*.pyz --help` after its first run: <= 600 ms
- `junjo serve` ready to accept spans (spawn until an OTLP/HTTP export is answered 200),
  from the wheel and from the zipapp: <= 3 s

Run `make dist` first. The wheel's venv is .cache/bench-startup-venv (made again when the
wheel changes; its dependencies from .cache/dist-wheels, as tests/dist fills it, else from
the index); the zipapp unpacks into a temp SHIV_ROOT, and is run once before it is timed.
`python -c pass` is measured in the same run as the baseline: the ratio shows how much of a
time is the machine's.

    .venv/bin/python scripts/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from tests.support.export import sdk_spans  # noqa: E402
from tests.support.keys import make_keys  # noqa: E402
from tests.support.server import clean_env, free_port  # noqa: E402

VENV = REPO / ".cache" / "bench-startup-venv"
WHEELS = REPO / ".cache" / "dist-wheels"
BARS_MS = {"help-wheel": 300, "help-zipapp": 600, "serve-wheel": 3000, "serve-zipapp": 3000}


def base_python() -> str:
    return getattr(sys, "_base_executable", sys.executable)


def one(pattern: str) -> Path:
    found = sorted((REPO / "dist").glob(pattern))
    if not found:
        sys.exit(f"no dist/{pattern}: run `make dist` first")
    return found[-1]


def wheel_venv(wheel: Path) -> Path:
    stamp = VENV / "wheel.txt"
    if stamp.exists() and stamp.read_text() == f"{wheel.name} {wheel.stat().st_mtime_ns}":
        return VENV / "bin"
    shutil.rmtree(VENV, ignore_errors=True)
    venv.create(VENV, with_pip=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    offline = ["--no-index", "--find-links", str(WHEELS)]
    if subprocess.run([*pip, *offline, str(wheel)], capture_output=True).returncode != 0:
        subprocess.run([*pip, str(wheel)], check=True)
    stamp.write_text(f"{wheel.name} {wheel.stat().st_mtime_ns}")
    return VENV / "bin"


def timed_run(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def serve_ready(command: list[str], env: dict[str, str], payload: bytes) -> float:
    """ms from spawning `serve` on a fresh data dir until an export is answered 200."""
    with tempfile.TemporaryDirectory(prefix="junjo-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        key = make_keys(data_dir).ingest
        port = free_port()
        args = ["serve", "--data-dir", str(data_dir), "--port", str(port)]
        args += ["--grpc-port", str(free_port())]
        headers = {"x-junjo-api-key": key, "Content-Type": "application/x-protobuf"}
        url = f"http://127.0.0.1:{port}/v1/traces"
        started = time.perf_counter()
        proc = subprocess.Popen([*command, *args], env=env, stderr=subprocess.DEVNULL)
        try:
            while True:
                if proc.poll() is not None:
                    sys.exit(f"{command} serve exited with {proc.returncode}")
                try:
                    if httpx.post(url, content=payload, headers=headers).status_code == 200:
                        return (time.perf_counter() - started) * 1000
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        finally:
            proc.terminate()
            proc.wait(30)


def export_payload() -> bytes:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return encode_spans(sdk_spans(3, service="bench-startup")).SerializeToString()


def measure(runs: int) -> dict[str, list[float]]:
    wheel_bin = wheel_venv(one("junjo_server-*.whl"))
    zipapp = one("junjo-server-*.pyz")
    shiv_root = tempfile.mkdtemp(prefix="junjo-bench-shiv-")
    env = clean_env(SHIV_ROOT=shiv_root)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode is written as a user's run does
    junjo = [str(wheel_bin / "junjo")]
    pyz = [base_python(), str(zipapp)]
    commands: dict[str, Callable[[], float]] = {
        "python -c pass (baseline)": lambda: timed_run([base_python(), "-c", "pass"], env),
        "help-wheel": lambda: timed_run([*junjo, "--help"], env),
        "help-zipapp": lambda: timed_run([*pyz, "--help"], env),
    }
    payload = export_payload()
    commands["serve-wheel"] = lambda: serve_ready(junjo, env, payload)
    commands["serve-zipapp"] = lambda: serve_ready(pyz, env, payload)
    try:
        started = time.perf_counter()
        timed_run([*pyz, "--help"], env)  # the first run unpacks the dependencies
        print(f"zipapp first run (unpack): {time.perf_counter() - started:.1f} s")
        timed_run([*junjo, "--help"], env)  # bytecode written on the first import
        results: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):  # interleaved: a burst of load hits every measure alike
            for name, command in commands.items():
                results[name].append(command())
        return results
    finally:
        shutil.rmtree(shiv_root, ignore_errors=True)


LABELS = {
    "help-wheel": "junjo --help (wheel venv)",
    "help-zipapp": "python3 junjo-server-*.pyz --help (after 1st run)",
    "serve-wheel": "junjo serve ready for spans (wheel venv)",
    "serve-zipapp": "junjo serve ready for spans (zipapp)",
}


def report(results: dict[str, list[float]], runs: int) -> bool:
    baseline = statistics.median(next(iter(results.values())))
    print(f"\nstart-up, median of {runs} runs (ms)\n")
    print(f"{'measure':52} {'median':>7} {'min':>7} {'max':>7} {'x base':>7} {'bar':>6}  ok")
    ok_all = True
    for name, values in results.items():
        median = statistics.median(values)
        bar = BARS_MS.get(name)
        ok = "" if bar is None else ("yes" if median <= bar else "NO")
        ok_all &= ok != "NO"
        print(
            f"{LABELS.get(name, name):52} {median:7.0f} {min(values):7.0f} {max(values):7.0f}"
            f" {median / baseline:7.1f} {bar or '':>6}  {ok}"
        )
    return ok_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.chdir(tempfile.gettempdir())  # no ./junjo.toml of the caller's
    results = measure(args.runs)
    sys.exit(0 if report(results, args.runs) else 1)


if __name__ == "__main__":
    main()

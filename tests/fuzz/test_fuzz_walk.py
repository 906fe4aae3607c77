"""The native OTLP walker (junjo/features/spans/native/otlp_walk.c) on hostile bytes.

It parses what arrives from the network, so it runs here under AddressSanitizer (reads past
the buffer, use after free, LeakSanitizer's leaks) and UBSan (overflow, shifts, misaligned
loads), fed by libFuzzer's coverage-guided mutation of the seed corpus (``corpus.py``):

* ``test_the_seeds_walk_clean``: every seed, and every regression input, once;
* ``test_the_fuzzer_finds_nothing``: ``FUZZ_SECONDS`` (default 30) of fuzzing in one
  process; a crash, leak, UB report, a 20 s input or 2 GiB of memory fails the test with
  the input's path, its hex (to commit as ``regressions/<name>.hex``) and the report.

Both replay their inputs (the seeds; the inputs the fuzzer kept) a second time under
MemorySanitizer, which ASan cannot replace: it reports a branch on uninitialized memory.

Both also hold the walker to its contract with the Python converter (the oracle) on every
input they walk: where protobuf rejects the bytes or convert.py would raise, the walker must
decline, and where it accepts it must produce as many rows as convert.py; through the built
extension, when there is one, the very same rows (``tests/spans/test_native.assert_parity``):
the inputs the fuzzer keeps are a parity corpus no hand-written generator reaches.

Needs clang with libFuzzer and the sanitizer runtimes (Debian: ``clang libclang-rt-14-dev``,
which ``make test`` installs). Without them the tests FAIL, so CI cannot silently skip
them; on a developer machine without clang, set ``JUNJO_SKIP_FUZZ=1`` to skip them.
``CLANG`` names another compiler; ``FUZZ_CORPUS`` keeps the fuzzer's corpus in a directory
of one's own between runs (``make fuzz``: 10 minutes, corpus in ``.cache/fuzz-corpus``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from junjo.features.spans import native
from junjo.features.spans.convert import convert_request
from tests.fuzz.corpus import MAX_LEN, declined_regressions, write_seeds
from tests.spans.test_native import assert_parity

HERE = Path(__file__).resolve().parent
NATIVE = HERE.parents[1] / "junjo" / "features" / "spans" / "native"
HARNESS = HERE / "fuzz_walk.c"
DICTIONARY = HERE / "otlp.dict"
SKIP_ENV = "JUNJO_SKIP_FUZZ"

SANITIZERS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
MSAN = ["-fsanitize=memory", "-fsanitize-memory-track-origins"]
CFLAGS = ["-g", "-O1", "-fno-omit-frame-pointer", "-std=c11", f"-I{NATIVE}"]
# The walker's allocations go through the harness, which makes one of them fail per input.
CFLAGS += [f"-D{name}=jw_test_{name}" for name in ("malloc", "calloc", "realloc")]
# Every finding is fatal and printed with its stack; leaks are checked at exit.
# A walk of at most a few MB never needs one allocation of 512 MB: more is an amplification
# bug (see corpus.amplification_seeds), fatal like the others.
ALLOCATION_LIMIT_MB = 512
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:"
    f"max_allocation_size_mb={ALLOCATION_LIMIT_MB}",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "MSAN_OPTIONS": f"halt_on_error=1:max_allocation_size_mb={ALLOCATION_LIMIT_MB}",
}
# Per input, generous enough for a loaded 2-core machine (an input that still takes this long
# is a denial of service, a real finding), and the memory one request may cost.
LIBFUZZER_LIMITS = [f"-max_len={MAX_LEN}", "-timeout=20", "-rss_limit_mb=2048"]
LIBFUZZER_LIMITS += [f"-malloc_limit_mb={ALLOCATION_LIMIT_MB}"]
JW_OK, JW_DECLINE = 0, 1

pytestmark = pytest.mark.slow  # builds and runs C programs


@dataclass(frozen=True)
class Binaries:
    fuzzer: Path  # libFuzzer target
    replays: tuple[Path, ...]  # read paths on stdin, print "<status> <rows>" for each


def clang() -> str:
    if os.environ.get(SKIP_ENV):
        pytest.skip(f"{SKIP_ENV} is set")
    compiler = os.environ.get("CLANG", "clang")
    if shutil.which(compiler) is None:
        pytest.fail(
            f"{compiler} not found: the walker's fuzz tests need clang with libFuzzer and the "
            f"sanitizer runtimes (Debian: apt-get install clang libclang-rt-14-dev; `make test` "
            f"installs them). Set {SKIP_ENV}=1 to skip these tests on a developer machine."
        )
    return compiler


def walker_sources() -> list[Path]:
    """The walker's C files: those of the native folder that are pure C (the extension module,
    which includes Python.h, is not linked into the harness)."""
    sources = [p for p in sorted(NATIVE.glob("*.c")) if "Python.h" not in p.read_text()]
    if not sources:
        pytest.fail(f"no walker source (pure C, *.c) in {NATIVE}")
    return sources


def compile_programs(compiler: str, programs: dict[Path, list[str]]) -> None:
    """Builds each program (output path: its extra flags) from the harness and the walker,
    all at once (a few seconds each under the sanitizers)."""
    sources = [str(HARNESS), *map(str, walker_sources())]
    commands = [
        [compiler, *CFLAGS, *flags, *sources, "-lm", "-o", str(out)]
        for out, flags in programs.items()
    ]
    running = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for command in commands
    ]
    for command, process in zip(commands, running, strict=True):
        output, _ = process.communicate()
        if process.returncode != 0:
            pytest.fail(
                f"building the fuzz harness failed (is libclang-rt-14-dev installed?):\n"
                f"{' '.join(command)}\n{output[-4000:]}"
            )


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Binaries:
    compiler = clang()
    out = tmp_path_factory.mktemp("fuzz-build")
    built = Binaries(fuzzer=out / "fuzz_walk", replays=(out / "replay_asan", out / "replay_msan"))
    # The replays walk each input once: -O0 builds them in a second, where MSan at -O1 takes
    # fifteen on this machine.
    replay = ["-DJW_STATUS_MAIN", "-O0"]
    compile_programs(
        compiler,
        {
            built.fuzzer: ["-fsanitize=fuzzer", *SANITIZERS],
            built.replays[0]: [*replay, *SANITIZERS],
            built.replays[1]: [*replay, *MSAN],
        },
    )
    return built


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz-seeds")
    write_seeds(directory)
    return directory


def sanitized_env() -> dict[str, str]:
    return {**os.environ, **SANITIZER_ENV}


# -- replay and the contract with convert.py --------------------------------------------------


Verdicts = dict[Path, tuple[int, int]]


def replay(binaries: Binaries, paths: list[Path]) -> Verdicts:
    """(status, rows) of each input, walked by each sanitized replay tool; they must agree (a
    verdict that depends on the build depends on memory it should not read)."""
    first, *others = [replay_one(binary, paths) for binary in binaries.replays]
    for other in others:
        differ = [path for path in paths if first[path] != other[path]]
        assert not differ, f"the ASan and MSan builds disagree on {differ[:10]}"
    return first


def replay_one(binary: Path, paths: list[Path]) -> Verdicts:
    done = subprocess.run(
        [str(binary)],
        input="".join(f"{path}\n" for path in paths),
        capture_output=True,
        text=True,
        env=sanitized_env(),
        timeout=600,
    )
    verdicts = [tuple(map(int, line.split())) for line in done.stdout.splitlines()]
    if done.returncode != 0:
        culprit = paths[len(verdicts)] if len(verdicts) < len(paths) else "(at exit: a leak?)"
        pytest.fail(
            f"the walker failed on {culprit} ({binary.name}, exit {done.returncode}):\n"
            f"{describe_input(culprit)}\n{sanitizer_report(done.stderr)}"
        )
    assert len(verdicts) == len(paths)
    return {path: (status, rows) for path, (status, rows) in zip(paths, verdicts, strict=True)}


def contract_breaches(verdicts: Verdicts) -> list[str]:
    """Inputs the walker accepted where convert.py raises or makes another number of rows,
    and (with the extension built) inputs whose rows differ from convert.py's."""
    breaches = []
    for path, (status, rows) in verdicts.items():
        if native.available():
            try:
                assert_parity(path.read_bytes())
            except AssertionError as exc:
                breaches.append(f"{path}: the extension differs from convert.py: {exc!s:.300}")
        if status != JW_OK:
            continue
        try:
            # fuzz_walk.c's options (a key id and times, or none) do not change the row count.
            python_rows = len(convert_request(path.read_bytes()).spans)
        except Exception as exc:  # protobuf's DecodeError, or anything convert.py raises
            breaches.append(f"{path}: accepted, convert.py raises {exc!r:.200}")
            continue
        if python_rows != rows:
            breaches.append(f"{path}: {rows} rows, convert.py makes {python_rows}")
    return breaches


def fail_on_breaches(breaches: list[str]) -> None:
    if breaches:
        shown = "\n".join(breaches[:20])
        first = Path(breaches[0].split(":", 1)[0])
        pytest.fail(
            f"{len(breaches)} inputs break the walker's contract (decline what Python would "
            f"not convert alike):\n{shown}\nthe first:\n{describe_input(first)}"
        )


def test_the_seeds_walk_clean(binaries: Binaries, seed_dir: Path):
    paths = sorted(seed_dir.iterdir())
    verdicts = replay(binaries, paths)
    fail_on_breaches(contract_breaches(verdicts))
    # Normal traffic must be accepted: a walker that declines it leaves the fuzzer only the
    # decline paths to explore (and the server only the slow path).
    normal = [p for p in paths if p.name.startswith(("bench_", "fixture_"))]
    declined = [p.name for p in normal if verdicts[p][0] != JW_OK]
    assert not declined, f"normal traffic declined by the walker: {declined}"
    accepted = [n for n in declined_regressions() if verdicts[seed_dir / n][0] != JW_DECLINE]
    assert not accepted, f"regressions the walker must decline: {accepted}"


# -- fuzzing ------------------------------------------------------------------------------------


def fuzz_seconds() -> int:
    return int(os.environ.get("FUZZ_SECONDS", "30"))


def corpus_dir(tmp_path: Path) -> Path:
    """Where the fuzzer adds the inputs that reach new code (FUZZ_CORPUS to keep them)."""
    directory = Path(os.environ.get("FUZZ_CORPUS") or tmp_path / "corpus")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_the_fuzzer_finds_nothing(binaries: Binaries, seed_dir: Path, tmp_path: Path):
    seconds = fuzz_seconds()
    corpus, artifacts = corpus_dir(tmp_path), tmp_path / "artifacts"
    artifacts.mkdir()
    command = [
        str(binaries.fuzzer),
        f"-max_total_time={seconds}",
        *LIBFUZZER_LIMITS,
        f"-dict={DICTIONARY}",
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
        str(corpus),  # the first directory gets the new inputs; the seeds stay as written
        str(seed_dir),
    ]
    try:
        # The limit only guards against a fuzzer that never stops: it loads the corpus, then
        # stops itself after `seconds`; a slow input fails alone after -timeout.
        done = subprocess.run(
            command, capture_output=True, text=True, env=sanitized_env(), timeout=seconds + 900
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"libFuzzer ran past {seconds} s + 15 min: {exc}")
    found = sorted(artifacts.iterdir())
    if done.returncode != 0 or found:
        pytest.fail(
            f"the fuzzer found a failing input (exit {done.returncode}): {found}\n"
            f"{''.join(describe_input(path) for path in found)}\n"
            f"{sanitizer_report(done.stderr)}\nrerun: {binaries.fuzzer} {found[0] if found else ''}"
        )
    print(f"\nlibFuzzer, {seconds} s: {fuzz_summary(done.stderr)}")
    # The inputs the fuzzer kept reach the most distinct code: hold them to the contract too.
    verdicts = replay(binaries, sorted(corpus.iterdir()))
    fail_on_breaches(contract_breaches(verdicts))


# -- reports ---------------------------------------------------------------------------------


def describe_input(path: Path | str) -> str:
    """An input's size and, when small, its hex, ready for tests/fuzz/regressions/."""
    path = Path(path)
    if not path.is_file():
        return ""
    data = path.read_bytes()
    if len(data) > 4096:
        return f"{path}: {len(data)} bytes\n"
    return f"{path}: {len(data)} bytes, hex:\n{data.hex()}\n"


_REPORT_START = re.compile(
    r"==\d+==(ERROR|WARNING: MemorySanitizer)|runtime error:|fuzz_walk: |ERROR: libFuzzer"
)


def sanitizer_report(stderr: str, limit: int = 120) -> str:
    """The sanitizer's (or libFuzzer's) report: from its first line, at most ``limit`` lines."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if _REPORT_START.search(line)), None)
    shown = lines[start : start + limit] if start is not None else lines[-limit:]
    return "\n".join(shown)


def fuzz_summary(stderr: str) -> str:
    """The last status line (coverage, features, corpus) and the final stats."""
    status = [line for line in stderr.splitlines() if re.match(r"#\d+\s", line)]
    stats = dict(re.findall(r"stat::(\w+):\s+(\d+)", stderr))
    picked: Iterable[str] = ("number_of_executed_units", "average_exec_per_sec", "peak_rss_mb")
    return f"{status[-1] if status else '?'}; " + ", ".join(f"{k}={stats.get(k)}" for k in picked)

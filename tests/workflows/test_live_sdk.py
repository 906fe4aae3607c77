"""Against the real junjo SDK (isolated venv, see scripts/sdk_e2e): fresh runs reconstruct
completely, and our RFC 6902 replay agrees with the `jsonpatch` library the SDK diffs with.

Slow: the first run builds `.cache/sdk-venv` (about 25 s); later runs take a few seconds.
"""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
from typing import Any

import pytest

from junjo.features.workflows.execution import build_workflow_execution
from junjo.features.workflows.jsonpatch import apply_patch
from scripts.sdk_e2e.run import run_workload
from scripts.sdk_e2e.venv import clean_env, ensure_sdk_venv
from tests.support.otlp_recorder import OtlpRecorder
from tests.workflows.make_fixtures import received_spans

pytestmark = pytest.mark.slow
API_KEY = "workflows-live-key"


def test_fresh_sdk_runs_reconstruct_completely() -> None:
    with OtlpRecorder(api_key=API_KEY) as recorder:
        run_workload(recorder.endpoint, API_KEY, service_name="workflows-live", runs=2)
        spans = received_spans(recorder)
    traces: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        traces.setdefault(span["trace_id"], []).append(span)
    checked = 0
    for trace in traces.values():
        owners = [
            span
            for span in trace
            if span["attributes"].get("junjo.span_type") in ("workflow", "subflow")
        ]
        for run in owners:
            result = build_workflow_execution(trace, run["span_id"])
            assert result["integrity"] == {"verdict": "complete", "reasons": []}, run["name"]
            end = json.loads(
                next(s for s in trace if s["span_id"] == run["span_id"])["attributes"][
                    "junjo.workflow.state.end"
                ]
            )
            assert result["store"]["replayed_state_end"] == end
            assert result["unmapped_span_ids"] == []
            checked += 1
    assert checked == 6  # 2 runs x (ticket workflow + its subflow + failing order workflow)


_MAKE_PATCHES = """
import json, sys, jsonpatch
pairs = json.load(sys.stdin)
print(json.dumps([jsonpatch.make_patch(a, b).patch for a, b in pairs]))
"""


def _random_doc(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.3:
        return {rng.choice("abc~/-") + rng.choice("xy"): _random_doc(rng, depth + 1)
                for _ in range(rng.randint(0, 4))}  # fmt: skip
    if depth < 3 and roll < 0.6:
        return [_random_doc(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return rng.choice([0, 1, 2, True, False, None, "s", "t", 1.5, [], {}])


def _mutate(doc: Any, rng: random.Random) -> Any:
    if isinstance(doc, dict) and doc and rng.random() < 0.7:
        key = rng.choice(sorted(doc))
        return {**doc, key: _mutate(doc[key], rng)} | ({"new~/": 1} if rng.random() < 0.2 else {})
    if isinstance(doc, list) and doc and rng.random() < 0.7:
        out = list(doc)
        op = rng.choice(["del", "ins", "swap", "deep"])
        i = rng.randrange(len(out))
        if op == "del":
            out.pop(i)
        elif op == "ins":
            out.insert(i, _random_doc(rng, 2))
        elif op == "swap":
            out.insert(rng.randrange(len(out) + 1), out.pop(i))
        else:
            out[i] = _mutate(out[i], rng)
        return out
    return _random_doc(rng, 1)


def test_replay_agrees_with_the_sdk_jsonpatch_library() -> None:
    rng = random.Random(6902)
    pairs = []
    for _ in range(400):
        doc = {"root": _random_doc(rng), "list": [_random_doc(rng) for _ in range(4)]}
        pairs.append((doc, _mutate(_mutate(doc, rng), rng)))
    with tempfile.TemporaryDirectory() as cwd:  # outside the repo: its `junjo` would shadow
        proc = subprocess.run(
            [str(ensure_sdk_venv()), "-c", _MAKE_PATCHES],
            input=json.dumps(pairs), capture_output=True, text=True, cwd=cwd, env=clean_env(),
            check=True,
        )  # fmt: skip
    patches = json.loads(proc.stdout)
    ops = {op["op"] for patch in patches for op in patch}
    assert {"add", "remove", "replace", "move"} <= ops  # the library's own conventions
    for (before, after), patch in zip(pairs, patches, strict=True):
        assert apply_patch(before, patch) == after, patch

"""The house rules of docs/architecture.md, checked on the source.

- a feature uses another only through its public face (``junjo.features.X``, never
  ``junjo.features.X.module``), and only names that face declares;
- features never import each other in a circle;
- the kernel imports no feature and no adapter; nothing outside ``features/`` reaches into
  a feature but through the registry (``junjo.features``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from junjo import features

JUNJO = Path(features.__file__).resolve().parents[1]
FEATURES_DIR = JUNJO / "features"
FEATURE_NAMES = sorted(p.parent.name for p in FEATURES_DIR.glob("*/__init__.py"))


def imports(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module, names imported from it, line) of every import in a file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno


def public_names(feature: str) -> set[str]:
    """What a feature's ``__init__`` defines or declares under ``if TYPE_CHECKING:``."""
    tree = ast.parse((FEATURES_DIR / feature / "__init__.py").read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            prefix = f"junjo.features.{feature}."
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith(
                    prefix
                ):
                    names |= {a.asname or a.name for a in statement.names}
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def feature_of(module: str) -> tuple[str, bool] | None:
    """(feature, whether the import names one of its modules) for junjo.features.X[.m]."""
    parts = module.split(".")
    if parts[:2] != ["junjo", "features"] or len(parts) < 3:
        return None
    return parts[2], len(parts) > 3


def feature_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in FEATURE_NAMES}
    for name in FEATURE_NAMES:
        for path in (FEATURES_DIR / name).rglob("*.py"):
            for module, imported, _ in imports(path):
                if module == "junjo.features":  # from junjo.features import users
                    graph[name] |= {n for n in imported if n in FEATURE_NAMES and n != name}
                found = feature_of(module)
                if found and found[0] != name:
                    graph[name].add(found[0])
    return graph


def test_features_use_each_other_only_through_their_public_face():
    faces = {name: public_names(name) for name in FEATURE_NAMES}
    wrong = []
    for name in FEATURE_NAMES:
        for path in (FEATURES_DIR / name).rglob("*.py"):
            for module, imported, line in imports(path):
                found = feature_of(module)
                if found is None or found[0] == name:
                    continue
                other, into_module = found
                where = f"{path.relative_to(JUNJO.parent)}:{line}"
                if into_module:
                    wrong.append(f"{where} imports {module}: use junjo.features.{other}")
                for unknown in set(imported) - faces[other]:
                    wrong.append(f"{where} imports {unknown}, not in {other}'s public face")
    assert not wrong, "\n".join(wrong)


def test_features_never_import_each_other_in_a_circle():
    graph = feature_graph()

    def cycle_from(start: str, node: str, path: list[str]) -> list[str] | None:
        for nxt in sorted(graph[node]):
            if nxt == start:
                return [*path, nxt]
            if nxt not in path:
                found = cycle_from(start, nxt, [*path, nxt])
                if found:
                    return found
        return None

    cycles = [c for name in FEATURE_NAMES if (c := cycle_from(name, name, [name]))]
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("folder", ["kernel", "server"])
def test_outside_features_nothing_reaches_into_one(folder: str):
    wrong = []
    paths = [*(JUNJO / folder).rglob("*.py")]
    if folder == "server":
        paths += [JUNJO / "cli.py", JUNJO / "cli_support.py"]
    for path in paths:
        for module, _, line in imports(path):
            reaches = feature_of(module) is not None
            into_adapter = folder == "kernel" and module.startswith(("junjo.server", "junjo.cli"))
            if reaches or into_adapter:
                wrong.append(f"{path.relative_to(JUNJO.parent)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_every_feature_folder_is_registered_and_declares_its_feature():
    registered = [name.rsplit(".", 1)[1] for name in features.FEATURES]
    assert sorted(registered) == FEATURE_NAMES
    assert [f.name for f in features.load()] == registered

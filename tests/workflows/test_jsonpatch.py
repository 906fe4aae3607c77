"""RFC 6902 (JSON Patch) and RFC 6901 (JSON Pointer): the appendix examples, plus the
properties the replay relies on (inputs never mutated, atomic failure, clear errors)."""

from __future__ import annotations

import copy
import json

import pytest

from junjo.features.workflows.jsonpatch import (
    PatchError,
    apply_patch,
    diff_paths,
    format_pointer,
    json_equal,
    parse_pointer,
    resolve,
)

# RFC 6902 Appendix A: (section, document, patch, expected result or None for an error).
# A.13 (a duplicate "op" member) is a JSON-text problem our JSON parser resolves first.
APPENDIX_A = [
    ("A.1", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
     {"baz": "qux", "foo": "bar"}),
    ("A.2", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}),
    ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
     {"foo": ["bar", "baz"]}),
    ("A.5", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ("A.6", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7", {"foo": ["all", "grass", "cows", "eat"]},
     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.9", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], None),
    ("A.10", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
     {"foo": "bar", "baz": "qux"}),
    ("A.12", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], None),
    ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}],
     {"/": 9, "~1": 10}),
    ("A.15", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], None),
    ("A.16", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
]  # fmt: skip


@pytest.mark.parametrize(("section", "doc", "patch", "expected"), APPENDIX_A)
def test_rfc6902_appendix_a(section: str, doc: dict, patch: list, expected: dict | None) -> None:
    before = copy.deepcopy(doc)
    if expected is None:
        with pytest.raises(PatchError):
            apply_patch(doc, patch)
    else:
        assert apply_patch(doc, patch) == expected, section
    assert doc == before, "the input document must not change"


RFC6901_DOC = json.loads(
    '{"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\\\j": 5,'
    ' "k\\"l": 6, " ": 7, "m~n": 8}'
)


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("", RFC6901_DOC),
        ("/foo", ["bar", "baz"]),
        ("/foo/0", "bar"),
        ("/", 0),
        ("/a~1b", 1),
        ("/c%d", 2),
        ("/e^f", 3),
        ("/g|h", 4),
        ("/i\\j", 5),
        ('/k"l', 6),
        ("/ ", 7),
        ("/m~0n", 8),
    ],
)
def test_rfc6901_section5_pointers(pointer: str, expected: object) -> None:
    assert resolve(RFC6901_DOC, parse_pointer(pointer)) == expected


def test_escapes_round_trip_and_decode_in_the_right_order() -> None:
    assert parse_pointer("/~01") == ["~1"]  # not "/"
    assert format_pointer(["a/b", "m~n", ""]) == "/a~1b/m~0n/"
    assert parse_pointer(format_pointer(["~1/~0"])) == ["~1/~0"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"op": "add"}, "must be a JSON array"),
        (["add"], "must be a JSON object"),
        ([{"op": "append", "path": "/a", "value": "x"}], "unknown op 'append'"),
        ([{"path": "/a"}], "unknown op None"),
        ([{"op": "add", "value": 1}], "needs a 'path'"),
        ([{"op": "add", "path": "/a"}], "needs a 'value'"),
        ([{"op": "move", "path": "/a"}], "needs a 'from'"),
        ([{"op": "add", "path": "a", "value": 1}], "must start with '/'"),
        ([{"op": "add", "path": "/a~2", "value": 1}], "invalid '~' escape"),
        ([{"op": "remove", "path": "/missing"}], "/missing does not exist"),
        ([{"op": "replace", "path": "/missing", "value": 1}], "/missing does not exist"),
        ([{"op": "add", "path": "/list/01", "value": 1}], "'01' is not an array index"),
        ([{"op": "add", "path": "/list/3", "value": 1}], "out of range"),
        ([{"op": "remove", "path": "/list/-"}], "'-' is not an array index"),
        ([{"op": "add", "path": "/n/x", "value": 1}], "/n is not a container"),
        ([{"op": "move", "from": "/obj", "path": "/obj/inner"}], "its own children"),
        ([{"op": "remove", "path": ""}], "cannot remove the whole document"),
    ],
)
def test_bad_operations_raise_a_clear_patch_error(patch: object, message: str) -> None:
    doc = {"a": 1, "list": [1, 2], "n": 5, "obj": {"k": 1}}
    with pytest.raises(PatchError, match=message.replace("(", r"\(")):
        apply_patch(doc, patch)


def test_error_names_the_failing_operation_and_the_patch_is_atomic() -> None:
    doc = {"a": 1}
    patch = [{"op": "replace", "path": "/a", "value": 2}, {"op": "remove", "path": "/b"}]
    with pytest.raises(PatchError) as info:
        apply_patch(doc, patch)
    assert info.value.op_index == 1
    assert str(info.value).startswith("operation 1: ")
    assert doc == {"a": 1}


def test_inputs_are_never_mutated_even_when_ops_write_into_inserted_values() -> None:
    doc = {"outer": {"list": [1, 2, 3]}, "untouched": {"deep": [1]}}
    value = {"x": []}
    patch = [
        {"op": "add", "path": "/new", "value": value},
        {"op": "add", "path": "/new/x/-", "value": 1},  # writes inside a value from the patch
        {"op": "remove", "path": "/outer/list/0"},
        {"op": "move", "from": "/outer/list", "path": "/moved"},
        {"op": "copy", "from": "/moved", "path": "/copied"},
        {"op": "add", "path": "/copied/0", "value": "c"},  # must not change /moved
    ]
    doc_before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    result = apply_patch(doc, patch)
    assert result == {
        "outer": {},
        "untouched": {"deep": [1]},
        "new": {"x": [1]},
        "moved": [2, 3],
        "copied": ["c", 2, 3],
    }
    assert doc == doc_before and patch == patch_before and value == {"x": []}
    assert result["untouched"] is doc["untouched"]  # untouched subtrees are shared, not copied


def test_whole_document_operations() -> None:
    assert apply_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]
    assert apply_patch({"a": 1}, [{"op": "add", "path": "", "value": "x"}]) == "x"
    assert apply_patch({"a": 1}, []) == {"a": 1}
    moved = apply_patch({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a"}])
    assert moved == {"a": {"b": 1}}


def test_json_equality_is_json_not_python() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(True, 1)
    assert not json_equal({"a": 0}, {"a": False})
    assert not json_equal([1], [1, 2])
    assert not json_equal("1", 1)
    with pytest.raises(PatchError, match="test failed"):
        apply_patch({"flag": True}, [{"op": "test", "path": "/flag", "value": 1}])


def test_diff_paths_points_at_the_differences() -> None:
    a = {"same": 1, "changed": {"x": 1, "y": [1, 2]}, "only_a": 0}
    b = {"same": 1, "changed": {"x": 2, "y": [1, 3]}, "only_b": 0}
    assert diff_paths(a, b) == ["/changed/x", "/changed/y/1", "/only_a", "/only_b"]
    assert diff_paths([1], [1, 2]) == [""]
    assert diff_paths(a, a) == []

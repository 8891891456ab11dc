"""YAML input files are read only when they are regular files of a bounded size, and a file one
of them names is looked up relative to it and inside its root (``named_file``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from journeydsl.yamlfile import FileError, InputError, load_document, named_file


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """load_document on a FIFO raises InputError at 1:1, without waiting for a writer."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / "x.yaml")
    caught: list[InputError] = []

    def load() -> None:
        try:
            load_document(tmp_path / "x.yaml")
        except InputError as exc:
            caught.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=60)  # a guard against hanging the suite, not a timing assertion
    assert caught, "load_document blocked on the FIFO"
    assert str(caught[0]).endswith(
        "x.yaml:1:1: error: the file is a FIFO (named pipe), not a regular file: it is not read"
    )


def test_the_limit_is_the_callers(tmp_path: Path) -> None:
    """A file of `limit` bytes is read; one byte more is refused, naming the limit."""
    (tmp_path / "x.yaml").write_text("a: 1\n", encoding="utf-8")
    assert load_document(tmp_path / "x.yaml", limit=5).data == {"a": 1}
    with pytest.raises(InputError, match="larger than the limit of 4 bytes: it is not read"):
        load_document(tmp_path / "x.yaml", limit=4)


def test_named_file_is_relative_to_the_document_and_inside_its_root(tmp_path: Path) -> None:
    """A name resolves against the document's folder; leaving it is an error at the location,
    unless the root given holds the file."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "other.txt").write_text("x\n", encoding="utf-8")
    (tmp_path / "sub" / "here.txt").write_text("x\n", encoding="utf-8")
    doc = load_document(tmp_path / "sub" / "d.yaml", "a: here.txt\nb: ../other.txt\n")
    found = named_file(doc, ("a",), "here.txt", root=None, limit=10, what="list")
    assert found == (tmp_path / "sub" / "here.txt").resolve()
    refused = named_file(doc, ("b",), "../other.txt", root=None, limit=10, what="list")
    assert isinstance(refused, FileError)
    assert (refused.line, refused.column) == (2, 4)
    folder = tmp_path / "sub"
    assert refused.message.startswith(f"list '../other.txt' is outside the root folder '{folder}'")
    allowed = named_file(doc, ("b",), "../other.txt", root=tmp_path, limit=10, what="list")
    assert allowed == (tmp_path / "other.txt").resolve()
    missing = named_file(doc, ("b",), "gone.txt", root=None, limit=10, what="list")
    assert isinstance(missing, FileError)
    assert missing.message == "list 'gone.txt' does not exist"


def test_a_value_of_the_wrong_shape_says_list_or_mapping() -> None:
    """A mapping where a list is expected, or a number where a mapping is, is told in a YAML
    file's words ("expected a list", "found a mapping"), not the model's ("a valid tuple",
    "instance of PolicySet")."""
    from journeydsl.runtime.policies import load_policies

    text = "quiet_hours:\n  from: '21:00'\n  to: '08:00'\njourneys:\n  bar: 3\n"
    with pytest.raises(InputError) as caught:
        load_policies("p.yaml", text)
    assert [str(e) for e in caught.value.errors] == [
        "p.yaml:2:3: error: quiet_hours: expected a list (one `- item` a line, or `[a, b]`), "
        "found a mapping",
        "p.yaml:5:8: error: journeys.bar: expected a mapping (`name: value` lines, or "
        "`{name: value}`), found 3",
    ]


def test_a_list_with_a_wrong_item_is_not_also_called_too_short() -> None:
    """`journeys: [123]` (a list that must not be empty) is one error, at the item: pydantic's
    "should have at least 1 item after validation, not 0" on the list was reported too."""
    from journeydsl.runtime.policies import load_policies

    with pytest.raises(InputError) as caught:
        load_policies("p.yaml", "frequency_caps: [{max: 1, window: 1d, journeys: [123]}]\n")
    assert [str(e) for e in caught.value.errors] == [
        "p.yaml:1:50: error: frequency_caps[0].journeys[0]: Input should be a valid string, "
        "found 123"
    ]
    with pytest.raises(InputError, match="at least 1 item"):
        load_policies("p.yaml", "frequency_caps: [{max: 1, window: 1d, journeys: []}]\n")


def test_a_key_given_twice_in_one_mapping_is_an_error_at_the_second(tmp_path: Path) -> None:
    """A policy, behaviour or test file that gives a key twice in one mapping (`max: 6` then
    `max: 60`) is refused at the second one, naming the first's line, rather than read as the
    last value; a key that a merge (`<<: *base`) brings and the mapping overrides is not."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "holdout: {percent: 5}\n"
        "caps:\n"
        "  - &cap {name: a, max: 6}\n"
        "  - <<: *cap\n"
        "    name: b\n"
        "  - name: c\n"
        "    max: 6\n"
        "    max: 60\n"
        "holdout: {percent: 50}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_document(path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:8:5: error: duplicate key 'max': it is first given at line 7; give each key once",
        f"{path}:9:1: error: duplicate key 'holdout': it is first given at line 1; "
        "give each key once",
    ]
    path.write_text("caps:\n  - &cap {name: a, max: 6}\n  - {<<: *cap, name: b}\n", "utf-8")
    assert load_document(path).data["caps"][1] == {"name": "b", "max": 6}


def test_a_file_not_saved_as_utf8_is_reported_at_the_line_and_column(tmp_path: Path) -> None:
    """A policy, behaviour or test file saved as Windows-1258 is refused at the line and column
    of its first character that is not UTF-8, with what to do, not at 1:1 with a byte offset."""
    path = tmp_path / "p.yaml"
    path.write_bytes("description: Ngân hàng\nholdout: {percent: 5}\n".encode("cp1258"))
    with pytest.raises(InputError) as caught:
        load_document(path)
    [error] = caught.value.errors
    assert (error.line, error.column) == (1, 16)
    assert "byte 0xE2 at line 1, column 16 is not UTF-8" in error.message
    assert error.message.endswith("save it as UTF-8")

"""The do-not-contact list fails closed: a file that cannot be read (gone, a directory,
unreadable, not UTF-8, a line that is not one entry) withholds marketing with the reason
``do_not_contact_unavailable``, never reads as empty, and is read again once it is back."""

from __future__ import annotations

import builtins
import logging
import os
import pathlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from tests.runtime.policies.harness import (
    ONE_SMS,
    ONE_TRANSACTIONAL,
    Harness,
    compile_journey,
    ev,
    harness,
    local,
    policies,
    profile,
)

UNAVAILABLE = "do_not_contact_unavailable: "


@pytest.fixture
def capture() -> Iterator[LogCapture]:
    old = structlog.get_config()
    cap = LogCapture()
    structlog.configure(
        processors=[cap], wrapper_class=structlog.make_filtering_bound_logger(logging.INFO)
    )
    try:
        yield cap
    finally:
        structlog.configure(**old)


def _engine(tmp: Path, extra: str = "") -> tuple[Harness, Path]:
    """A marketing and a transactional SMS journey under a list file holding ``nobody``."""
    listing = tmp / "dnc.txt"
    listing.write_text("nobody\n", encoding="utf-8")
    policy = policies(f"do_not_contact: {{file: dnc.txt{extra}}}\n", tmp)
    journeys = [compile_journey(ONE_SMS), compile_journey(ONE_TRANSACTIONAL)]
    at = local("2026-01-05 09:00")
    return harness(journeys, [profile("c1"), profile("c2")], start=at, policy=policy), listing


def _activate(h: Harness, hour: int, *customers: str) -> None:
    at = local(f"2026-01-05 {hour:02d}:00")
    h.feed([ev(c, "card_activated", at, card_id=f"k{hour}") for c in customers or ("c1",)])


def _templates(h: Harness, customer_id: str = "c1") -> list[str]:
    return [m.template for m in h.delivered(customer_id)]


def _unreadable(monkeypatch: pytest.MonkeyPatch, listing: Path) -> None:
    """Reading ``listing`` is refused, as for a non-root user after ``chmod 000`` (tests run as
    root, who may read anything)."""
    read_bytes, read_text, open_ = pathlib.Path.read_bytes, pathlib.Path.read_text, builtins.open
    os_open = os.open
    target = str(listing)

    def denied(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    def guarded_bytes(self: Path) -> bytes:
        if str(self) == target:
            denied(self)
        return read_bytes(self)

    def guarded_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if str(self) == target:
            denied(self)
        return read_text(self, *args, **kwargs)

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) == target:
            denied(file)
        return open_(file, *args, **kwargs)

    def guarded_os_open(file: Any, *args: Any, **kwargs: Any) -> int:
        if str(file) == target:
            denied(file)
        return os_open(file, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_bytes", guarded_bytes)
    monkeypatch.setattr(os, "open", guarded_os_open)
    monkeypatch.setattr(pathlib.Path, "read_text", guarded_text)
    monkeypatch.setattr(builtins, "open", guarded_open)
    os.chmod(listing, 0)  # changes the file's status, as a real chmod does


def test_a_deleted_list_file_withholds_marketing_and_spares_transactional(
    tmp_path: Path,
) -> None:
    """The file deleted while the engine runs: marketing is suppressed by do_not_contact with
    the reason naming the file; transactional messages are still delivered (the default)."""
    h, listing = _engine(tmp_path)
    _activate(h, 10)
    listing.unlink()
    _activate(h, 11)
    assert _templates(h) == ["install_digital_app", "activation_reminder", "activation_reminder"]
    assert h.suppressed("c1") == [f"{UNAVAILABLE}{listing}: no such file"]
    held = [d for d in h.decisions("c1") if d["decision"] == "suppressed"]
    assert [(d["policy"], d["reason"]) for d in held] == [
        ("do_not_contact", f"{UNAVAILABLE}{listing}: no such file")
    ]


def test_an_unavailable_list_is_logged_as_an_error_once(
    tmp_path: Path, capture: LogCapture
) -> None:
    """An unreadable list logs one error naming the file and the problem (not one per message),
    and its return logs once at info."""
    h, listing = _engine(tmp_path)
    listing.unlink()
    _activate(h, 10, "c1", "c2")
    _activate(h, 11, "c1", "c2")
    errors = [e for e in capture.entries if e["log_level"] == "error"]
    assert [(e["event"], e["file"], e["problem"]) for e in errors] == [
        ("do_not_contact_unavailable", str(listing), "no such file")
    ]
    listing.write_text("nobody\n", encoding="utf-8")
    _activate(h, 12)
    assert [e["event"] for e in capture.entries].count("do_not_contact_restored") == 1


def test_transactional_when_unavailable_block_withholds_transactional_too(
    tmp_path: Path,
) -> None:
    """transactional_when_unavailable: block suppresses transactional messages as well while the
    file cannot be read."""
    h, listing = _engine(tmp_path, ", transactional_when_unavailable: block")
    listing.unlink()
    _activate(h, 10)
    assert _templates(h) == []
    assert h.suppressed("c1") == [f"{UNAVAILABLE}{listing}: no such file"] * 2


def test_a_directory_in_place_of_the_file_withholds_without_raising(tmp_path: Path) -> None:
    """The file replaced by a directory: no exception reaches the host, marketing is suppressed
    and transactional messages delivered."""
    h, listing = _engine(tmp_path)
    listing.unlink()
    listing.mkdir()
    _activate(h, 10)
    assert _templates(h) == ["activation_reminder"]
    assert h.suppressed("c1") == [f"{UNAVAILABLE}{listing}: a directory, not a file"]


def test_an_unreadable_list_file_withholds_marketing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the engine may not read (permission denied) withholds marketing, even after it
    was read once."""
    h, listing = _engine(tmp_path)
    _activate(h, 10)
    _unreadable(monkeypatch, listing)
    _activate(h, 11)
    assert _templates(h) == ["install_digital_app", "activation_reminder", "activation_reminder"]
    assert h.suppressed("c1") == [f"{UNAVAILABLE}{listing}: permission denied"]


def test_a_list_file_that_is_not_utf8_withholds_marketing(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 make the list unreadable, with the line: it is not read as the
    entries that happen to decode."""
    h, listing = _engine(tmp_path)
    listing.write_bytes(b"c2\n\xff\xfe0912345678\n")
    _activate(h, 10)
    assert _templates(h) == ["activation_reminder"]
    assert h.suppressed("c1") == [f"{UNAVAILABLE}{listing}: line 2 is not UTF-8 text"]


def test_a_line_that_is_not_one_entry_withholds_marketing(tmp_path: Path) -> None:
    """A CSV export (``c1,0912345678``) would match nobody: it is malformed, not a list."""
    h, listing = _engine(tmp_path)
    listing.write_text("# id,phone\nc1,0912345678\n", encoding="utf-8")
    _activate(h, 10, "c2")
    assert _templates(h, "c2") == ["activation_reminder"]
    assert h.suppressed("c2") == [
        f"{UNAVAILABLE}{listing}: line 2: ',' in 'c1,0912345678'; write one customer id or phone "
        "number a line"
    ]


def test_a_byte_order_mark_does_not_hide_the_first_entry(tmp_path: Path) -> None:
    """A list saved with a UTF-8 byte-order mark still lists its first entry."""
    h, listing = _engine(tmp_path)
    listing.write_text("\ufeffc1\n", encoding="utf-8")
    _activate(h, 10, "c1", "c2")
    assert h.suppressed("c1") == ["on the do-not-contact list (marketing)"]
    assert _templates(h, "c2") == ["install_digital_app", "activation_reminder"]


def test_the_list_is_read_again_once_the_file_is_back(tmp_path: Path) -> None:
    """After a deleted file, then a directory, the restored file is read again: its entries are
    withheld from and everyone else gets marketing."""
    h, listing = _engine(tmp_path)
    listing.unlink()
    _activate(h, 10, "c1", "c2")
    listing.mkdir()
    _activate(h, 11, "c1", "c2")
    shutil.rmtree(listing)
    listing.write_text("c1\n", encoding="utf-8")
    _activate(h, 12, "c1", "c2")
    unavailable = [
        f"{UNAVAILABLE}{listing}: no such file",
        f"{UNAVAILABLE}{listing}: a directory, not a file",
    ]
    assert h.suppressed("c1") == [*unavailable, "on the do-not-contact list (marketing)"]
    assert h.suppressed("c2") == unavailable
    assert [m.template for m in h.delivered("c2", "sms")].count("install_digital_app") == 1

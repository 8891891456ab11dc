"""Confined policy files: the files a policy file names (``extends``, ``do_not_contact.file``) are
read relative to its folder and only from inside its root folder (its own, or ``root=`` /
``--root``), only regular files of a bounded size; anything else is an error at the line that
names it, and the refused file is never read nor shown."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.runtime.policies import dnc_lists as dnc_lists_module
from journeydsl.runtime.policies import load_policies
from journeydsl.runtime.policies.loader import MAX_POLICY_BYTES
from journeydsl.yamlfile import FileError, InputError
from tests.catalogs import USES, example_catalogs_in
from tests.runtime.policies.harness import (
    ONE_SMS,
    Harness,
    compile_journey,
    ev,
    harness,
    local,
    profile,
)

#: A string that must never reach any output: it is in the secret file outside the root.
MARKER = "SECRET_MARKER_5b1e07"
SECRET = f"{MARKER}_key: {MARKER}_value\nholdout: {{percent: {MARKER}}}\n"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A YAML file outside the policy file's folder whose content must never be shown."""
    path = tmp_path / "secrets.yaml"
    path.write_text(SECRET, encoding="utf-8")
    return path


def policy_file(folder: Path, text: str) -> Path:
    """``text`` as ``folder/policies.yaml``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "policies.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def reaching_out(how: str, folder: Path, secret: Path) -> str:
    """How a policy file in ``folder`` (made here) names ``secret``, outside it: by its absolute
    path, by ``..``, or by a symbolic link beside it."""
    folder.mkdir()
    if how == "symlink":
        (folder / "link.yaml").symlink_to(secret)
        return "link.yaml"
    return str(secret) if how == "absolute" else f"../{secret.name}"


def errors(path: Path, root: Path | None = None) -> list[FileError]:
    """The mistakes loading ``path`` reports (it must fail)."""
    with pytest.raises(InputError) as caught:
        load_policies(path, root=root)
    return caught.value.errors


def one_error(path: Path, root: Path | None = None) -> FileError:
    """The one mistake of ``path``, which must be in ``path`` itself."""
    (found,) = errors(path, root)
    assert found.file == str(path)
    return found


# --------------------------------------------------------------------------- extends


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_extends_outside_the_folder_is_refused_at_its_entry(
    how: str, tmp_path: Path, secret: Path
) -> None:
    """`extends: [vn_decree_91, X]` with X leading out of the policy file's folder is an error at
    X's line and column that names the root; the file is not read (no error in it)."""
    folder = tmp_path / "policies"
    name = reaching_out(how, folder, secret)
    e = one_error(policy_file(folder, f"extends:\n  - vn_decree_91\n  - {name}\n"))
    assert (e.line, e.column) == (3, 5)
    assert e.message.startswith(f"policy file '{name}' ")
    expected = "is a symbolic link to a file outside" if how == "symlink" else "is outside"
    assert f"{expected} the root folder '{folder}': it is not read" in e.message
    assert "--root" in e.message
    assert MARKER not in e.message


def test_root_allows_extending_a_file_in_a_parent_folder(tmp_path: Path) -> None:
    """`extends: ../shared/base.yaml` is refused by default and read with root= the parent."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_text(
        "extends: vn_decree_91\nholdout: {percent: 3}\n", encoding="utf-8"
    )
    path = policy_file(tmp_path / "policies", "extends: ../shared/base.yaml\n")
    assert "is outside the root folder" in one_error(path).message
    assert load_policies(path, root=tmp_path).holdout.percent == 3


def test_the_root_holds_for_the_whole_chain_of_extends(tmp_path: Path, secret: Path) -> None:
    """A file extended from inside the root cannot itself reach outside it: the refusal is in
    that file, at its own `extends` line."""
    folder = tmp_path / "policies"
    (folder / "team").mkdir(parents=True)
    middle = folder / "team" / "base.yaml"
    middle.write_text("extends: ../../secrets.yaml\n", encoding="utf-8")
    (found,) = errors(policy_file(folder, "extends: team/base.yaml\n"))
    assert (found.file, found.line, found.column) == (str(middle), 1, 10)
    assert "is outside the root folder" in found.message


def test_an_extended_file_of_the_wrong_kind_or_size_is_refused(tmp_path: Path) -> None:
    """A folder, a FIFO and a file over MAX_POLICY_BYTES named by `extends` are refused at the
    entry, without blocking on the FIFO."""
    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "big.yaml").write_text("#" * (MAX_POLICY_BYTES + 1), encoding="utf-8")
    names = ["dir.yaml", "big.yaml"]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.yaml")
        names.append("fifo.yaml")
    path = policy_file(tmp_path, "extends: [" + ", ".join(names) + "]\n")
    found: list[list[FileError]] = []
    worker = threading.Thread(target=lambda: found.append(errors(path)), daemon=True)
    worker.start()
    worker.join(timeout=60)  # a guard against hanging the suite, not a timing assertion
    assert found, "loading the policies blocked on the FIFO"
    messages = [e.message for e in found[0]]
    assert messages[0].startswith("policy file 'dir.yaml' is a folder, not a regular file")
    assert messages[1].startswith(
        f"policy file 'big.yaml' is larger than the limit of {MAX_POLICY_BYTES:,} bytes"
    )
    if len(names) == 3:
        assert messages[2].startswith("policy file 'fifo.yaml' is a FIFO (named pipe)")


def test_a_policy_file_named_on_the_command_line_is_bounded(tmp_path: Path) -> None:
    """The policy file itself, larger than MAX_POLICY_BYTES, is refused at 1:1 without parsing."""
    path = policy_file(tmp_path, "#" * (MAX_POLICY_BYTES + 1))
    assert one_error(path).message == (
        f"the file is larger than the limit of {MAX_POLICY_BYTES:,} bytes: it is not read"
    )


# --------------------------------------------------------------------------- do-not-contact file


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_do_not_contact_file_outside_the_folder_is_refused(
    how: str, tmp_path: Path, secret: Path
) -> None:
    """`do_not_contact: {file: X}` leading out of the folder is an error at X."""
    folder = tmp_path / "policies"
    name = reaching_out(how, folder, secret)
    e = one_error(policy_file(folder, f"do_not_contact:\n  file: {name}\n"))
    assert (e.line, e.column) == (2, 9)
    assert e.message.startswith(f"do-not-contact file '{name}' ")
    expected = "is a symbolic link to a file outside" if how == "symlink" else "is outside"
    assert f"{expected} the root folder '{folder}': it is not read" in e.message


def test_a_per_journey_do_not_contact_file_is_confined_too(tmp_path: Path, secret: Path) -> None:
    """The file of a per-journey override is held to the same root."""
    path = policy_file(
        tmp_path / "policies", "journeys:\n  j:\n    do_not_contact: {file: ../secrets.yaml}\n"
    )
    e = one_error(path)
    assert (e.line, e.column) == (3, 28)
    assert "is outside the root folder" in e.message


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_as_the_do_not_contact_file_is_refused(tmp_path: Path) -> None:
    """`file: /dev/zero` is outside the folder; with `/` as the root it is refused as a device
    (looked up with stat, never opened)."""
    path = policy_file(tmp_path, "do_not_contact: {file: /dev/zero}\n")
    assert "is outside the root folder" in one_error(path).message
    assert "is a character device, not a regular file" in one_error(path, Path("/")).message


def test_a_fifo_as_the_do_not_contact_file_is_refused(tmp_path: Path) -> None:
    """A FIFO next to the policy file is an error at its line (loading does not block)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / "dnc.txt")
    e = one_error(policy_file(tmp_path, "do_not_contact: {file: dnc.txt}\n"))
    assert "'dnc.txt' is a FIFO (named pipe), not a regular file: it is not read" in e.message


def test_a_do_not_contact_file_inside_the_root_is_made_absolute(tmp_path: Path) -> None:
    """A list inside the root, here in a parent folder allowed by root=, is read as before."""
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "dnc.txt").write_text("c-1\n", encoding="utf-8")
    path = policy_file(tmp_path / "policies", "do_not_contact: {file: ../lists/dnc.txt}\n")
    loaded = load_policies(path, root=tmp_path)
    assert loaded.do_not_contact.file == str((tmp_path / "lists" / "dnc.txt").resolve())


def _sent_after_growing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """An engine whose list file, allowed when loaded, has grown past the (lowered) limit by
    the time a marketing SMS is sent."""
    (tmp_path / "dnc.txt").write_text("nobody\n", encoding="utf-8")
    loaded = load_policies(policy_file(tmp_path, "do_not_contact: {file: dnc.txt}\n"))
    monkeypatch.setattr(dnc_lists_module, "MAX_DO_NOT_CONTACT_BYTES", 16)
    (tmp_path / "dnc.txt").write_text("nobody\n" * 10, encoding="utf-8")
    at = local("2026-01-05 09:00")
    h = harness([compile_journey(ONE_SMS)], [profile("c1")], start=at, policy=loaded)
    h.feed([ev("c1", "card_activated", local("2026-01-05 10:00"), card_id="k1")])
    return h


def test_a_list_that_grows_past_the_limit_withholds_marketing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime reads the list with the same bound: past it, the list fails closed."""
    h = _sent_after_growing(tmp_path, monkeypatch)
    (reason,) = h.suppressed("c1")
    assert reason.startswith("do_not_contact_unavailable: ")
    assert reason.endswith("dnc.txt: larger than the limit of 16 bytes")


# --------------------------------------------------------------------------- check --policies


JOURNEY = f"journey j\n{USES}outcomes done\nentry on card_issued\nexit done\n"


def journey_in(folder: Path) -> Path:
    """A journey that compiles cleanly, with the example catalogs beside it, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = example_catalogs_in(folder) / "j.journey"
    path.write_text(JOURNEY, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
@pytest.mark.parametrize("how", ["extends", "dnc", "symlink", "root_elsewhere"])
def test_a_refused_policy_file_never_appears_in_any_output(
    how: str, fmt: str, tmp_path: Path, secret: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --policies` never shows a byte of a file the policy file reaches for outside its
    root, in any output format; the refusal (JD601) is reported at the policy file's line."""
    folder = tmp_path / "project"
    journey = journey_in(folder)
    argv = ["check", "--format", fmt]
    if how == "extends":
        text = "extends: ../secrets.yaml\n"
    elif how == "dnc":
        text = "do_not_contact: {file: ../secrets.yaml}\n"
    elif how == "symlink":
        (folder / "base.yaml").symlink_to(secret)
        text = "extends: base.yaml\n"
    else:  # a --root that holds the policy file, but not the secret
        text = "extends: ../secrets.yaml\n"
        argv += ["--root", str(folder)]
    path = policy_file(folder, text)
    assert main([*argv, "--policies", str(path), str(journey)]) == 1
    captured = capsys.readouterr()
    assert MARKER not in captured.out + captured.err
    assert "JD601" in captured.out
    assert "outside the root folder" in captured.out


def test_check_root_allows_the_policy_file_to_extend_a_parent_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --root DIR --policies P` reads what P extends inside DIR; without it, JD601 at the
    entry, with the caret excerpt of the policy file."""
    (tmp_path / "shared.yaml").write_text("extends: vn_decree_91\n", encoding="utf-8")
    folder = tmp_path / "project"
    path = policy_file(folder, "extends: ../shared.yaml\n")
    argv = ["check", "--policies", str(path), str(journey_in(folder))]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert f"{path}:1:10: error[JD601]: policy file '../shared.yaml' is outside" in out
    assert "   1 | extends: ../shared.yaml" in out
    assert main([*argv, "--root", str(tmp_path)]) == 0
    assert "0 errors" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["simulate", "run"])
def test_run_and_simulate_take_the_root_to_the_policy_loader(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`simulate --policies` and `run --policies` refuse a list one folder up (exit 1, the line
    named), and read it with --root the parent folder."""
    (tmp_path / "dnc.txt").write_text("c-1\n", encoding="utf-8")
    folder = tmp_path / "project"
    path = policy_file(folder, "do_not_contact: {file: ../dnc.txt}\n")
    journey = journey_in(folder)
    events = folder / "events.jsonl"
    event = {
        "customer_id": "c-1",
        "type": "card_issued",
        "at": "2026-01-05T10:00:00+07:00",
        "data": {"card_id": "k1", "product": "gold"},
    }
    events.write_text(json.dumps(event) + "\n", encoding="utf-8")
    argv = [command, str(journey), "--events", str(events), "--policies", str(path)]
    if command == "run":
        argv += ["--db", str(folder / "state.db"), "--actions", str(folder / "actions.jsonl")]
    assert main(argv) == 1
    refused = f"{path}:1:24: error: do-not-contact file '../dnc.txt' is outside the root folder"
    assert refused in capsys.readouterr().err
    assert main([*argv, "--root", str(tmp_path)]) == 0, capsys.readouterr().err

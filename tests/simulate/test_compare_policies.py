"""``simulate --compare-policies OTHER``: the same journey on the same customers under two
contact-policy files, side by side, with each capacity limit's figures (what it could take a
day, took, dropped, left waiting) and their difference; its parts merge like any run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeydsl.exitcodes import ExitCode
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, Cli

ONE_A_DAY = str(EXAMPLES / "telesales_one_a_day.policies.yaml")
TWO_HUNDRED = str(EXAMPLES / "policies.yaml")


def _args(*extra: str) -> list[str]:
    return [
        *("simulate", str(EXAMPLES / "dormant_reactivation.journey")),
        *("--population", "300", "--behaviour", str(BEHAVIOUR / "dormant.yaml"), "--seed", "7"),
        *("--policies", ONE_A_DAY, "--compare-policies", TWO_HUNDRED),
        *extra,
    ]


def test_the_capacity_change_is_reported_limit_by_limit(cli: Cli) -> None:
    """1 against 200 telesales calls a day: the queue's daily capacity, tickets taken and
    dropped on each side, the difference, and the tickets per queue agree with them."""
    code, out, err = cli(*_args("--format", "json"), "-q")
    assert code == ExitCode.OK, err
    doc = json.loads(out)
    queue = doc["capacity"]["queue:telesales"]
    base, other, diff = queue["base"], queue["other"], queue["diff"]
    assert (base["capacity"], other["capacity"], diff["capacity"]) == (1, 200, 199)
    for side, figures in (("base", base), ("other", other)):
        tickets = sum(n for k, n in doc[side]["tickets"].items() if k.startswith("telesales/"))
        assert figures["taken"] == tickets
    assert base["taken"] < other["taken"]
    assert base["dropped"] > other["dropped"]
    assert diff["taken"] == other["taken"] - base["taken"]
    assert diff["dropped"] == other["dropped"] - base["dropped"]
    assert doc["other"]["file"].endswith(f"(policies {TWO_HUNDRED})")
    assert any(line.startswith("queue:telesales took") for line in doc["findings"])


def test_the_text_report_has_a_row_per_limit_and_figure(cli: Cli) -> None:
    """The text table ends with the queue's rows: a day, taken, dropped, backlog."""
    code, out, err = cli(*_args(), "-q")
    assert code == ExitCode.OK, err
    labels = [line.split()[0:2] for line in out.splitlines() if "queue:telesales" in line]
    assert ["queue:telesales", "a"] in labels
    assert ["queue:telesales", "taken"] in labels
    assert ["queue:telesales", "dropped"] in labels


def test_compare_policies_parts_merge_into_the_single_run(cli: Cli, tmp_path: Path) -> None:
    """Spread over 2 parts, a --compare-policies run merges into the single run's report."""
    args = _args("--format", "json")
    paths = []
    for k in (1, 2):
        path = str(tmp_path / f"part-{k}.json")
        code, out, err = cli(*args, "--part", f"{k}/2", "-o", path, "-q")
        assert (code, out) == (0, ""), err
        paths.append(path)
    assert cli("merge", *paths)[1] == cli(*args, "-q")[1]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--compare", str(EXAMPLES / "dormant_reactivation.journey")], "do not go together"),
        (["--sweep", "x=1,2"], "--sweep does not go with"),
        (["--trace", "c-1"], "--trace does not go with --compare"),
    ],
)
def test_options_that_do_not_go_with_compare_policies(
    cli: Cli, extra: list[str], says: str
) -> None:
    """--compare-policies refuses another comparison and --trace, with exit 2 and a reason."""
    code, _, err = cli(*_args(*extra))
    assert code == ExitCode.USAGE
    assert says in err


def test_a_missing_or_broken_other_policy_file_is_an_error(cli: Cli, tmp_path: Path) -> None:
    """A missing file is a usage error; a broken one is told at its line, exit 1."""
    args = _args()
    missing = [*args[:-1], str(tmp_path / "nope.yaml")]
    code, _, err = cli(*missing)
    assert code == ExitCode.USAGE
    assert "no such policy file" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("queues: [{queue: telesales, capacity: -1}]\n")
    code, _, err = cli(*args[:-1], str(broken))
    assert code == ExitCode.ERRORS
    assert "broken.yaml:1:" in err

"""simulate counts the exits of a ticket step that waits for its queue's decision: per step in
the funnel (JSON and text), the same with --workers (a queue is never split), and the figures
add up to the outcomes."""

from __future__ import annotations

import json
from pathlib import Path

from journeydsl.simulate.tally import Tally
from tests.simulate.conftest import BEHAVIOUR, DORMANT, EXAMPLES, Cli

#: The example bank's policies with a telesales team of ten calls a day, dropping the rest.
TEN_A_DAY = """extends: {policies}
queues: [{{queue: telesales, capacity: 10, rank: spend_365d, overflow: drop}}]
"""


def _simulate(cli: Cli, tmp_path: Path, *extra: str) -> str:
    policy = tmp_path / "policies.yaml"
    policy.write_text(TEN_A_DAY.format(policies=EXAMPLES / "policies.yaml"), encoding="utf-8")
    args = [
        "simulate",
        DORMANT,
        "--population",
        "300",
        "--behaviour",
        str(BEHAVIOUR / "dormant.yaml"),
        "--seed",
        "7",
        "--policies",
        str(policy),
        "--root",
        "/",
        *extra,
    ]
    code, out, err = cli(*args)
    assert code == 0, err
    return out


def test_the_funnel_counts_each_exit_of_the_ticket(cli: Cli, tmp_path: Path) -> None:
    """accepted + not accepted are the tickets decided; they match the outcomes of the two
    exits, and the text report shows them on the ticket's row."""
    funnel = json.loads(_simulate(cli, tmp_path, "--format", "json"))["funnel"]
    step = funnel["steps"]["ticket_telesales"]
    assert step["not_accepted"] > 0
    assert step["accepted"] > 0
    assert step["accepted"] + step["not_accepted"] + step["exited"] == step["entered"]
    assert funnel["outcomes"]["telesales_full"] == step["not_accepted"]
    assert funnel["outcomes"]["handed_to_telesales"] == step["accepted"]
    row = f"ticket telesales (accepted {step['accepted']}, not accepted {step['not_accepted']})"
    assert row in _simulate(cli, tmp_path)


def test_workers_do_not_split_a_queue(cli: Cli, tmp_path: Path) -> None:
    """A queue's capacity counts every customer together: with --workers 2 the run is still
    one part, and takes and drops exactly the same tickets."""
    runs = [
        json.loads(_simulate(cli, tmp_path, "--format", "json", *extra))["funnel"]
        for extra in ((), ("--workers", "2"))
    ]
    one, two = (f["steps"]["ticket_telesales"] for f in runs)
    assert one == two
    assert one["not_accepted"] > 0


def test_tallies_of_two_parts_add_their_exits() -> None:
    """Merging tallies adds the exits of each ticket step."""
    record = {
        "visits": {"t": 1},
        "status": "ended",
        "outcome": "x",
        "log": [{"at": "", "node": "t", "what": "ticket_exit", "exit": "accepted"}],
    }
    a = Tally.of([record], [], tickets=frozenset({"t"}))
    b = Tally.of([record, record], [], tickets=frozenset({"t"}))
    assert a.merge(b).ticket_exits == {("t", "accepted"): 3}
    assert Tally.of([record], []).ticket_exits == {}

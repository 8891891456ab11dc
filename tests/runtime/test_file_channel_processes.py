"""Two processes appending to one actions file through their own FileChannel: every key ends up
in the file exactly once, whichever process delivered it first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 6
KEYS_PER_ROUND = 60

#: One writer: in each round it opens its own channel, waits until the other process has opened
#: its own too (so neither can have read the other's lines at open), then sends the round's
#: keys, and every earlier round's, twice over in its own shuffled order.
WRITER = """
import json, random, sys, time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from journeydsl.runtime.protocols import Message, Ticket
from journeydsl.runtime.file_channel import FileChannel

path, me, rounds, per_round = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
other = "b" if me == "a" else "a"
at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=7)))
rng = random.Random(me)
written = deduplicated = 0

def barrier(name):
    (path.parent / f"{name}-{me}").touch()
    deadline = time.monotonic() + 60
    while not (path.parent / f"{name}-{other}").exists():
        if time.monotonic() > deadline:
            sys.exit(f"{me}: the other writer never reached {name}")
        time.sleep(0.001)

for r in range(rounds):
    with FileChannel(path, fsync=False) as channel:
        barrier(f"open-{r}")
        keys = [f"r{q}-{i}" for q in range(r + 1) for i in range(per_round)]
        for _ in range(2):
            rng.shuffle(keys)
            for key in keys:
                if key.endswith(("0", "5")):
                    channel.open(Ticket(key, "c1", "telesales", "high", {"r": r}, "j", 1, "n", at))
                else:
                    channel.send(Message(key, "c1", "sms", "t", "service", {}, "j", 1, "n", at))
        written += channel.written
        deduplicated += channel.deduplicated
    barrier(f"done-{r}")
print(json.dumps({"written": written, "deduplicated": deduplicated}))
"""


def _writer(path: Path, me: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), me, str(ROUNDS), str(KEYS_PER_ROUND)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_processes_sending_the_same_keys_write_each_key_once(tmp_path: Path) -> None:
    """Two processes, each with its own FileChannel on one actions file, opened before either
    writes and sending the same keys in different orders round after round, leave every key in
    the file exactly once, on whole lines; together they wrote each key once."""
    path = tmp_path / "actions.jsonl"
    writers = [_writer(path, "a"), _writer(path, "b")]
    reports = []
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    keys = Counter(row["key"] for row in rows)
    expected = {f"r{r}-{i}" for r in range(ROUNDS) for i in range(KEYS_PER_ROUND)}
    assert [k for k, n in keys.items() if n > 1] == []
    assert set(keys) == expected
    assert sum(r["written"] for r in reports) == len(expected)
    sends = sum(2 * KEYS_PER_ROUND * (r + 1) for r in range(ROUNDS))
    assert sum(r["deduplicated"] for r in reports) == 2 * sends - len(expected)

"""The PostgreSQL store beyond the shared contract (tests/runtime/test_store_contract.py runs that
on it): `journeydsl run --db postgresql://…` gives the SQLite run's actions file, the schema is
versioned and migrated on request, one writer per database, and a server that cannot be used is
named in one line."""

from __future__ import annotations

import contextlib
import itertools
import threading
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.cli import main
from journeydsl.runtime.protocols import LiveRecords, SinkError
from journeydsl.runtime.records import DecisionEntry
from journeydsl.runtime.stores.postgres import (
    SCHEMA_VERSION,
    DatabaseLocked,
    PostgresStore,
    StoreUnavailable,
)
from journeydsl.runtime.stores.sqlite import StoreThreadError
from tests.runtime import test_delivery_rounds as rounds
from tests.runtime import test_sqlite_schema_4 as schema4
from tests.runtime.scenario import local, profile
from tests.runtime.test_run_cli import EVENTS, JOURNEYS, PROFILES, jsonl, read_actions, summarise

pytestmark = pytest.mark.postgres

NOW = "2026-02-20T00:00:00+07:00"


def _run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db: str, name: str, *extra: str
) -> tuple[int, str, Path]:
    events = jsonl(tmp_path / "events.jsonl", EVENTS)
    profiles = jsonl(tmp_path / "profiles.jsonl", PROFILES)
    actions = tmp_path / f"{name}.jsonl"
    argv = ["run", *JOURNEYS, "--db", db, "--events", str(events), "--actions", str(actions)]
    code = main([*argv, "--profiles", str(profiles), "--now", NOW, *extra])
    return code, capsys.readouterr().err, actions


def test_run_on_postgres_writes_the_actions_file_a_sqlite_run_writes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """Both example journeys over the same stream: the actions file of a run on PostgreSQL has
    the same lines as the one of a run on a SQLite file, and the same summary."""
    code, sqlite_err, sqlite = _run(capsys, tmp_path, str(tmp_path / "s.sqlite"), "sqlite")
    assert code == 0
    code, pg_err, pg = _run(capsys, tmp_path, pg_dsn, "pg", "--migrate")
    assert code == 0, pg_err
    assert sorted(pg.read_text().splitlines()) == sorted(sqlite.read_text().splitlines())
    assert len(summarise(read_actions(pg))) == 13
    assert pg_err.splitlines()[-1].split(" to ")[0] == sqlite_err.splitlines()[-1].split(" to ")[0]


def test_a_rerun_on_postgres_skips_everything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """The same command again on the same database processes nothing again and appends no
    line; the quarantined lines are kept in the database and listed by `quarantine list`."""
    assert _run(capsys, tmp_path, pg_dsn, "a", "--migrate")[0] == 0
    before = (tmp_path / "a.jsonl").read_text()
    code, err, actions = _run(capsys, tmp_path, pg_dsn, "a")
    assert code == 0, err
    assert actions.read_text() == before
    assert "0 processed, 8 skipped as already done, 3 quarantined; 0 actions delivered" in err
    assert main(["quarantine", "list", "--db", pg_dsn]) == 0
    assert "3 quarantined events in" in capsys.readouterr().out


def test_a_database_is_migrated_only_when_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """Without --migrate a run refuses a database without the schema, naming it and the fix;
    `journeydsl db migrate` migrates it once, and says so; a second time it has nothing to do."""
    code, err, actions = _run(capsys, tmp_path, pg_dsn, "a")
    assert code == 1
    assert "schema version 0 is older than this journeydsl's" in err
    assert "journeydsl db migrate --db DSN (or pass --migrate)" in err
    assert "postgresql://postgres@127.0.0.1:" in err
    assert not actions.exists()
    assert main(["db", "migrate", "--db", pg_dsn]) == 0
    assert f"migrated from schema version 0 to {SCHEMA_VERSION}" in capsys.readouterr().out
    assert main(["db", "migrate", "--db", pg_dsn]) == 0
    assert f"schema version {SCHEMA_VERSION}, up to date" in capsys.readouterr().out
    assert _run(capsys, tmp_path, pg_dsn, "a")[0] == 0


def test_a_newer_schema_is_refused_naming_the_database(pg_dsn: str) -> None:
    """A database written by a newer journeydsl is refused, naming server and database."""
    with PostgresStore(pg_dsn) as store:
        store._conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(
        StoreUnavailable, match=r"postgresql://.*/jdsl_test_.*schema version 99 is newer"
    ):
        PostgresStore(pg_dsn)


def test_one_writer_per_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """While a writer holds the database's advisory lock, a run on it is refused (exit 2)
    before anything is written; a store without the lock (a host's) is not refused."""
    with PostgresStore(pg_dsn, writer_lock=True):
        with pytest.raises(DatabaseLocked):
            PostgresStore(pg_dsn, writer_lock=True).close()
        PostgresStore(pg_dsn).close()
        code, err, actions = _run(capsys, tmp_path, pg_dsn, "a")
        assert code == 2
        assert "in use by another journeydsl writer" in err
        assert not actions.exists()
    assert _run(capsys, tmp_path, pg_dsn, "a")[0] == 0


def test_an_unreachable_server_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A DSN whose server does not answer ends the run with exit 1 and one line naming the
    server and database (no password), not a traceback."""
    dsn = "postgresql://jd:secret@127.0.0.1:1/nowhere?connect_timeout=2"
    code, err, _ = _run(capsys, tmp_path, dsn, "a")
    assert code == 1
    assert "postgresql://jd@127.0.0.1:1/nowhere: cannot connect to the PostgreSQL server" in err
    assert "secret" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://jd:s3cretpw@[bad",
        "postgresql://jd:s3cretpw@127.0.0.1:1/nowhere%zz",
        "postgresql://jd@127.0.0.1:1/nowhere?password=s3cretpw&unknown=1",
        "host=127.0.0.1 password=s3cretpw port=notaport",
    ],
)
def test_a_dsn_that_cannot_be_read_is_named_without_its_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dsn: str
) -> None:
    """A DSN libpq cannot read (which its message quotes) is refused in one line that never
    shows the password, by the CLI and by the store's exception (its cause included)."""
    with pytest.raises(StoreUnavailable) as refused:
        PostgresStore(dsn)
    assert "s3cretpw" not in str(refused.value)
    assert refused.value.__cause__ is None
    if dsn.startswith("postgresql://"):
        assert main(["db", "migrate", "--db", dsn]) == 1
        err = capsys.readouterr().err
        assert "cannot connect to the PostgreSQL server" in err
        assert "s3cretpw" not in err


def _with_password(dsn: str) -> tuple[str, str]:
    """``dsn`` with a password in its URI (its own, or one a trust-auth server ignores), and
    that password."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(dsn)
    if parts.password:
        return dsn, unquote(parts.password)
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user or 'postgres'}:s3cretpw@{host}").geturl(), "s3cretpw"


def test_the_commands_never_print_the_password_of_the_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """`run` (its summary's quarantine hint), `status`, `audit`, `budgets`, `quarantine
    list|replay`, `pause` of an unknown journey and `explain --db` name a PostgreSQL database
    as postgresql://user@host:port/db, never with the password its DSN holds."""
    dsn, secret = _with_password(pg_dsn)
    assert main(["db", "migrate", "--db", dsn]) == 0
    assert main(["status", "--db", dsn]) == 0
    said = capsys.readouterr()
    assert "postgresql://" in said.out
    assert secret not in said.out + said.err
    code, err, _ = _run(capsys, tmp_path, dsn, "a")
    assert code == 0, err
    assert "journeydsl quarantine list --db postgresql://" in err
    commands = [
        ["audit", "--db", dsn],
        ["budgets", "--db", dsn],
        ["quarantine", "list", "--db", dsn],
        ["quarantine", "list", "--db", dsn, "--id", "nope"],
        ["quarantine", "replay", "--db", dsn],
        ["pause", "no_such_journey", "--db", dsn],
        ["explain", JOURNEYS[0], "--customer", "nobody", "--db", dsn],
    ]
    for argv in commands:
        main(argv)
        said = capsys.readouterr()
        assert "postgresql://" in said.out + said.err, argv
        assert secret not in err + said.out + said.err, argv


def test_the_store_is_live_records_and_single_threaded(pg_dsn: str) -> None:
    """The PostgreSQL store offers live records, and refuses a call from another thread."""
    assert issubclass(PostgresStore, LiveRecords)
    with PostgresStore(pg_dsn) as store:
        failures: list[BaseException] = []

        def other() -> None:
            try:
                store.get_meta("x")
            except BaseException as exc:
                failures.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert [type(f) for f in failures] == [StoreThreadError]
        assert str(failures[0]).startswith("PostgresStore is single-threaded: postgresql://")


def test_a_batch_whose_statement_failed_does_not_commit_silently(pg_dsn: str) -> None:
    """A statement that failed inside a batch (its error caught) makes the batch raise at its
    end, and nothing of it is kept (PostgreSQL would otherwise turn the COMMIT into a ROLLBACK
    without a word)."""
    from journeydsl.expr.context import EventRecord

    def failing_batch(store: PostgresStore) -> None:
        with store.batch():
            store.append("e1", EventRecord("c1", "t", _t(), {}))
            with contextlib.suppress(Exception):
                store._conn.execute("SELECT 1 / 0")

    with PostgresStore(pg_dsn) as store:
        with pytest.raises(RuntimeError, match="was rolled back"):
            failing_batch(store)
        assert store.all() == []
        assert not store.in_transaction()


def _t() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 5, tzinfo=UTC)


# --------------------------------------------------------------------------- the engine on it


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["live", "whole"]),
            st.lists(st.sampled_from(["step", "deliver", "woke"]), max_size=4),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_live_and_whole_commits_keep_the_log_a_host_reads(
    pg_dsn: str, steps: list[tuple[str, list[str]]]
) -> None:
    """As on SQLite (tests/runtime/test_sqlite_schema_4.py): any mix of commits of live records
    and of whole records leaves the log the last commit meant, and a live record holds its end
    from the last entry that is not a delivery's."""
    iid = f"i{next(_examples)}"  # (one database for every example: an instance each)
    expected: list[dict[str, Any]] = [schema4._entry(0, "enter")]
    n = 1
    with PostgresStore(pg_dsn) as store:
        store.commit([schema4._record(iid, list(expected))], [])
        for kind, whats in steps:
            new = [schema4._entry(n + k, w) for k, w in enumerate(whats)]
            n += len(new)
            if kind == "live":
                live = store.live_instance(iid)
                assert live is not None
                assert live["log_from"] + len(live["log"]) == live["log_stored"] == len(expected)
                assert live["log"] == expected[live["log_from"] :]
                live["log"].extend(cast(list[DecisionEntry], new))
                expected.extend(new)
                store.commit([live], [])
                store.commit([live], [])  # (again: nothing is appended twice)
            else:
                expected = expected[: len(expected) // 2] + new
                store.commit([schema4._record(iid, list(expected))], [])
            whole = store.instance(iid)
            assert whole is not None
            assert whole["log"] == expected
    with PostgresStore(pg_dsn) as store:
        assert store.instance(iid) == schema4._record(iid, expected)


_examples = itertools.count()


def _statuses(dsn: str) -> dict[str, str]:
    """The outbox as another connection sees it: what was committed."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT customer_id, status FROM outbox").fetchall()
    return {str(c): str(s) for c, s in rows}


def test_a_failing_sink_keeps_the_outcomes_settled_before_it(pg_dsn: str) -> None:
    """As on SQLite (tests/runtime/test_delivery_rounds.py): three welcome e-mails delivered
    after one host batch, the second customer's sink raising: the first is committed as done,
    the others stay pending, and a rerun hands over only those."""
    customers = rounds.CUSTOMERS
    with PostgresStore(pg_dsn) as store:
        for c in customers:
            store.add(profile(c))
        run = rounds._run(store, fail_for="c-2")  # type: ignore[arg-type]

        def ingest_in_one_batch() -> None:
            with store.batch():
                for c in customers:
                    run.engine.ingest(rounds._issued(c))

        with pytest.raises(SinkError):  # (raised once the batch has committed)
            ingest_in_one_batch()
        assert _statuses(pg_dsn) == {"c-1": "done", "c-2": "pending", "c-3": "pending"}
        assert [m.customer_id for m in run.channels["email"].delivered] == ["c-1"]
    with PostgresStore(pg_dsn) as store:
        rerun = rounds._run(store, fail_for=None)  # type: ignore[arg-type]
        rerun.engine.deliver(local("2026-01-05 09:05"))
        assert sorted(m.customer_id for m in rerun.channels["email"].delivered) == ["c-2", "c-3"]
        assert _statuses(pg_dsn) == dict.fromkeys(customers, "done")


def test_a_lost_connection_is_told_as_the_database_that_cannot_be_used(pg_dsn: str) -> None:
    """When the server ends the store's session mid-batch, the batch raises psycopg's error
    (not one from its ROLLBACK), and pg_error turns it into one line naming the database."""
    import psycopg

    from journeydsl.expr.context import EventRecord
    from journeydsl.runtime.stores.postgres import pg_error

    def batch_cut_short(store: PostgresStore) -> None:
        with store.batch():
            store.append("e1", EventRecord("c1", "t", _t(), {}))
            pid = store._conn.info.backend_pid
            with psycopg.connect(pg_dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            store.append("e2", EventRecord("c1", "t", _t(), {}))

    with PostgresStore(pg_dsn) as store:
        with pytest.raises(psycopg.OperationalError) as lost:
            batch_cut_short(store)
        problem = pg_error(store.path, lost.value)
        assert problem is not None
        assert str(problem).startswith(f"{store.path}: the PostgreSQL server cannot be used (")
    with PostgresStore(pg_dsn) as store:
        assert store.all() == []


def test_loading_profiles_names_the_customers_loaded(pg_dsn: str, tmp_path: Path) -> None:
    """load_profiles_jsonl() says how many it loaded, the lines it skipped and the customers
    it loaded, in file order (what `journeydsl run` looks at again for `entry when`)."""
    path = jsonl(tmp_path / "p.jsonl", [*PROFILES, "{not json"])
    with PostgresStore(pg_dsn) as store:
        loaded, problems, customers = store.load_profiles_jsonl(path)
    assert (loaded, customers) == (3, ["c-001", "c-002", "c-003"])
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:4"]

"""Simulations spread past one machine: ``simulate --part K/N`` part files merged by
``journeydsl merge`` give the report of a single run byte for byte (text, JSON, HTML), in any
order; a wrong set of parts is refused with a clear error and an exit code, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.cli import main
from journeydsl.cli import spread as spread_cli
from journeydsl.exitcodes import ExitCode
from journeydsl.simulate import parts as part_files
from journeydsl.simulate.parallel import Context, Plan, partition, plan_tasks, select_part
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, ONBOARDING, Cli, dormant_args

MODEL = str(BEHAVIOUR / "onboarding.yaml")


def _synthetic(*extra: str, journey: str = ONBOARDING) -> list[str]:
    return ["simulate", journey, "--population", "60", "--behaviour", MODEL, "--seed", "7", *extra]


def _parts(cli: Cli, args: list[str], n: int, folder: Path) -> list[str]:
    """Run parts 1..N of ``args`` into ``folder``; the part files' paths."""
    paths = []
    for k in range(1, n + 1):
        path = str(folder / f"part-{k}-of-{n}.json")
        code, out, err = cli(*args, "--part", f"{k}/{n}", "-o", path, "-q")
        assert (code, out) == (0, ""), err
        paths.append(path)
    return paths


@pytest.mark.parametrize("n", [1, 2, 3])
def test_text_parts_merge_into_the_single_run_text(cli: Cli, tmp_path: Path, n: int) -> None:
    """N = 1, 2, 3 parts of a synthetic run, merged last part first, print the text report of
    the single run byte for byte."""
    args = _synthetic()
    single = cli(*args, "-q")
    paths = _parts(cli, args, n, tmp_path)
    merged = cli("merge", *reversed(paths))
    assert single[0] == merged[0] == 0
    assert "60 instances entered" in single[1]
    assert merged[1] == single[1]


@pytest.mark.parametrize("n", [2, 3])
def test_json_parts_merge_into_the_single_run_json_and_html(
    cli: Cli, tmp_path: Path, n: int
) -> None:
    """Parts simulated for JSON merge, in a shuffled order, into the single run's JSON, and
    with --format html into its HTML page (with and without --detail)."""
    args = _synthetic("--format", "json")
    paths = _parts(cli, args, n, tmp_path)
    order = paths[1:] + paths[:1]
    assert cli("merge", *order)[1] == cli(*args, "-q")[1]
    assert json.loads(cli("merge", *order)[1])["funnel"]["entered"] == 60
    for extra in ([], ["--detail"]):
        html = cli(*_synthetic("--format", "html", *extra), "-q")
        merged = cli("merge", *order, "--format", "html", *extra)
        assert merged[0] == 0
        assert merged[1] == html[1]


def test_html_parts_merge_into_the_single_run_page(cli: Cli, tmp_path: Path) -> None:
    """Parts simulated with --format html merge by default into the single run's page."""
    args = _synthetic("--format", "html")
    paths = _parts(cli, args, 2, tmp_path)
    merged = cli("merge", *paths)
    assert merged[1].startswith("<!DOCTYPE html>")
    assert merged[1] == cli(*args, "-q")[1]


def test_merge_writes_the_csv_tables_and_the_output_file_of_the_single_run(
    cli: Cli, tmp_path: Path
) -> None:
    """merge --csv DIR -o F writes the same CSV files and report file as simulate does."""
    args = _synthetic()
    paths = _parts(cli, args, 2, tmp_path)
    for name, command in (("single", args), ("merged", ["merge", *paths])):
        assert (
            cli(*command, "--csv", str(tmp_path / name), "-o", str(tmp_path / f"{name}.txt"))[0]
            == 0
        )
    single = sorted(p.name for p in (tmp_path / "single").iterdir())
    assert "funnel.csv" in single
    assert sorted(p.name for p in (tmp_path / "merged").iterdir()) == single
    for name in single:
        assert (tmp_path / "merged" / name).read_bytes() == (
            tmp_path / "single" / name
        ).read_bytes()
    assert (tmp_path / "merged.txt").read_bytes() == (tmp_path / "single.txt").read_bytes()


def test_a_part_run_over_worker_processes_merges_the_same(cli: Cli, tmp_path: Path) -> None:
    """A part may itself run its tasks over --workers 3 (more processes than parts): merged with
    the other part, run in one process, it gives the single run's JSON."""
    args = _synthetic("--format", "json")
    first = str(tmp_path / "first.json")
    assert cli(*args, "--part", "1/2", "-o", first, "--workers", "3", "-q")[0] == 0
    (second,) = _parts(cli, args, 2, tmp_path)[1:]
    assert cli("merge", second, first)[1] == cli(*args, "-q")[1]


def test_recorded_parts_merge_with_the_trace(cli: Cli, tmp_path: Path) -> None:
    """Recorded mode (history before the start, two time zones): the merged report and the
    --trace timeline, drawn by the part that simulated the customer, are the single run's."""
    args = dormant_args("--trace", "d-002")
    paths = _parts(cli, args, 3, tmp_path)
    merged = cli("merge", paths[2], paths[0], paths[1])
    single = cli(*args)
    assert "timeline of d-002" in single[1]
    assert merged[1] == single[1]


def test_compare_and_sweep_parts_merge_into_the_single_run(cli: Cli, tmp_path: Path) -> None:
    """--compare (JSON, with the paired intervals) and --sweep (text) spread over 2 parts
    merge into the single run's reports."""
    compare = _synthetic(
        "--compare",
        str(EXAMPLES / "variants" / "onboarding_remind_every_2d.journey"),
        "--root",
        str(EXAMPLES),
        "--format",
        "json",
    )
    paths = _parts(cli, compare, 2, tmp_path)
    merged = cli("merge", *reversed(paths))
    assert "paired" in json.loads(merged[1])
    assert merged[1] == cli(*compare, "-q")[1]
    sweep = _synthetic(
        "--sweep",
        "reminder_interval=2d,5d",
        "--root",
        str(EXAMPLES),
        journey=str(EXAMPLES / "variants" / "onboarding_reminder_interval.journey"),
    )
    folder = tmp_path / "sweep"
    folder.mkdir()
    paths = _parts(cli, sweep, 2, folder)
    assert cli("merge", *paths)[1] == cli(*sweep, "-q")[1]


def test_policy_figures_and_paired_outcomes_merge_from_parts(cli: Cli, tmp_path: Path) -> None:
    """Under --policies (what each policy did, uplift against the holdout) and in a --compare
    with a holdout (paired intervals), 3 parts merge into the single run's reports."""
    policies = _synthetic("--policies", str(EXAMPLES / "policies.yaml"))
    compare = _synthetic(
        "--compare",
        str(EXAMPLES / "variants" / "onboarding_reminder_holdout.journey"),
        "--root",
        str(EXAMPLES),
    )
    for i, args in enumerate([[*policies, "--format", "json"], policies, compare]):
        folder = tmp_path / str(i)
        folder.mkdir()
        paths = _parts(cli, args, 3, folder)
        single = cli(*args, "-q")
        assert single[0] == 0
        assert cli("merge", *reversed(paths))[1] == single[1]
        assert ("holdout" if i else '"policies"') in single[1]


def test_the_parts_split_the_customers_as_the_process_pool_does() -> None:
    """Part K of N runs every N-th task of the split a run over N workers makes: the parts'
    tasks, together, are exactly the pool's."""
    from journeydsl.compiler import compile_file
    from journeydsl.simulate.behaviour import load_behaviour

    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    start = datetime(2026, 1, 5, tzinfo=UTC)
    plan = Plan((ONBOARDING,), start, start + timedelta(days=30), MODEL, population=50, chunk=10)
    context = Context((journey,), load_behaviour(MODEL).model)
    pool = plan_tasks(plan, context, 3)
    assert len(pool) == 5
    parts = [plan_tasks(plan, context, 1, part=(k, 3)) for k in (1, 2, 3)]
    assert [len(p) for p in parts] == [2, 2, 1]
    assert sorted(m for p in parts for t in p for m in t.members) == list(range(1, 51))
    assert [t.members for t in parts[0]] == [pool[0].members, pool[3].members]
    assert select_part(5, (2, 3)) == [1, 4]


def test_a_part_of_a_million_costs_what_its_customers_cost() -> None:
    """Part K of 1,000,000 splits 100 customers without a list per part (N = 10,000,000 took
    15 s and 1.9 GB): it keeps the customers the split gives part K, in little memory."""
    from journeydsl.compiler import compile_file
    from journeydsl.simulate.behaviour import load_behaviour
    from journeydsl.simulate.population import customer_ids

    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    start = datetime(2026, 1, 5, tzinfo=UTC)
    plan = Plan((ONBOARDING,), start, start + timedelta(days=30), MODEL, population=100)
    context = Context((journey,), load_behaviour(MODEL).model)
    n = 1_000_000
    ids = customer_ids("c-", 100)
    k = partition(ids[0], n) + 1
    tracemalloc.start()
    try:
        tasks = plan_tasks(plan, context, 1, part=(k, n))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000
    mine = tuple(i for i, c in enumerate(ids, 1) if partition(c, n) == k - 1)
    assert [t.members for t in tasks] == [mine]
    assert mine[0] == 1
    assert spread_cli.MAX_PARTS == part_files.MAX_PARTS == n  # (the parser's copy)


def test_merge_names_the_first_missing_parts_of_many(cli: Cli, tmp_path: Path) -> None:
    """One part of 1,000,000 merged alone names the first ten missing parts and counts the
    rest, instead of listing 999,999 (exit 2)."""
    path = str(tmp_path / "p.json")
    code, _, err = cli(*_synthetic("--part", "1/1000000", "-o", path, "-q"))
    assert code == 0, err
    code, out, err = cli("merge", path)
    assert (code, out) == (ExitCode.USAGE, "")
    names = ", ".join(f"{k}/1000000" for k in range(2, 12))
    assert err == (
        f"journeydsl: error: parts {names} and 999,989 more missing (given: 1/1000000 {path})\n"
    )


@pytest.fixture(scope="module")
def three_parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], str]:
    """Three part files of a synthetic JSON run, and the single run's JSON."""
    folder = tmp_path_factory.mktemp("parts")
    paths = []
    with contextlib.redirect_stdout(io.StringIO()) as single:
        assert main([*_synthetic("--format", "json"), "-q"]) == 0
    for k in (1, 2, 3):
        paths.append(str(folder / f"p{k}.json"))
        assert main([*_synthetic("--format", "json"), "--part", f"{k}/3", "-o", paths[-1]]) == 0
    return paths, single.getvalue()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations([0, 1, 2]))
def test_parts_merge_the_same_in_any_order(
    three_parts: tuple[list[str], str], order: list[int]
) -> None:
    """Whatever the order the part files are given in, merge prints the single run's JSON."""
    paths, single = three_parts
    with contextlib.redirect_stdout(io.StringIO()) as merged:
        assert main(["merge", *(paths[i] for i in order)]) == 0
    assert merged.getvalue() == single


# --------------------------------------------------------------------------- refusals


def test_a_missing_or_repeated_part_is_a_usage_error(
    cli: Cli, three_parts: tuple[list[str], str]
) -> None:
    """A part missing or given twice: exit 2, naming the part and the files."""
    p1, p2, p3 = three_parts[0]
    code, out, err = cli("merge", p1, p3)
    assert (code, out) == (ExitCode.USAGE, "")
    assert err == f"journeydsl: error: part 2/3 missing (given: 1/3 {p1}, 3/3 {p3})\n"
    code, _, err = cli("merge", p1, p2, p2, p3)
    assert code == ExitCode.USAGE
    assert err == f"journeydsl: error: part 2/3 is given twice: {p2} and {p2}\n"
    code, _, err = cli("merge", p1, p2, "nowhere.json")
    assert (code, err) == (ExitCode.USAGE, "journeydsl: error: nowhere.json: no such file\n")


def test_parts_of_different_runs_are_refused_naming_what_differs(
    cli: Cli, tmp_path: Path, three_parts: tuple[list[str], str]
) -> None:
    """Parts of another seed, or of another N, are refused (exit 1) with both files named and
    every setting that differs."""
    p1 = three_parts[0][0]
    other = str(tmp_path / "seed8.json")
    args = _synthetic("--format", "json")
    args[args.index("--seed") + 1] = "8"
    assert cli(*args, "--part", "2/3", "-o", other)[0] == 0
    code, _, err = cli("merge", p1, other, three_parts[0][2])
    assert code == ExitCode.ERRORS
    assert err == (
        f"journeydsl: error: {p1} and {other} are parts of different runs: "
        f'seed is 7 in {p1}, 8 in {other}; title is "synthetic: 60 customers from {MODEL}, '
        f'seed 7" in {p1}, "synthetic: 60 customers from {MODEL}, seed 8" in {other}\n'
    )
    half = str(tmp_path / "half.json")
    assert cli(*_synthetic("--format", "json"), "--part", "1/2", "-o", half)[0] == 0
    code, _, err = cli("merge", p1, half)
    assert code == ExitCode.ERRORS
    assert f"N is 3 in {p1}, 2 in {half}" in err


def test_a_journey_changed_since_the_parts_ran_is_refused(cli: Cli, tmp_path: Path) -> None:
    """Editing the journey between the parts and the merge: exit 1, naming the journey."""
    for name in ("onboarding_new_cardholder.journey", "events.yaml", "templates.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    journey = tmp_path / "onboarding_new_cardholder.journey"
    paths = _parts(cli, _synthetic(journey=str(journey)), 2, tmp_path)
    journey.write_text(journey.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    code, out, err = cli("merge", *paths)
    assert (code, out) == (ExitCode.ERRORS, "")
    assert err.startswith(f"journeydsl: error: {journey}: the journey or a catalog it reads ")
    assert "changed since the parts were simulated" in err


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "not a part file of `journeydsl simulate --part` (Expecting value"),
        ("{}", "not a part file of `journeydsl simulate --part`"),
        (
            '{"format": "journeydsl-simulate-part", "version": 99}',
            "a part file of version 99; this journeydsl merges version 1",
        ),
        (
            '{"format": "journeydsl-simulate-part", "version": 1, "part": 1, "parts": 1}',
            "a damaged part file (KeyError: 'results')",
        ),
    ],
)
def test_a_file_that_is_not_a_usable_part_is_refused(
    cli: Cli, tmp_path: Path, text: str, says: str
) -> None:
    """Not JSON, not a part file, another version, a damaged file: exit 1 naming the file."""
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli("merge", str(path))
    assert (code, out) == (ExitCode.ERRORS, "")
    assert err.startswith(f"journeydsl: error: {path}: {says}")


def test_counts_only_parts_do_not_make_a_json_report(cli: Cli, tmp_path: Path) -> None:
    """Parts simulated for the text report keep counts only: asking merge for JSON says how to
    get it (exit 2)."""
    paths = _parts(cli, _synthetic(), 1, tmp_path)
    code, out, err = cli("merge", *paths, "--format", "json")
    assert (code, out) == (ExitCode.USAGE, "")
    assert err == (
        "journeydsl: error: the parts keep counts only (simulated with --format text): merge "
        "them as text, or simulate them with --format json\n"
    )


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--part", "1/2"], "--part writes a part file: name it with -o FILE"),
        (["--part", "1/2", "-o", "p.json", "--csv", "d"], "--csv goes with `journeydsl merge`"),
        (["--executor", "dask"], "--executor dask needs --address tcp://HOST:PORT"),
        (["--address", "tcp://127.0.0.1:8786"], "--address goes with --executor dask"),
        (
            ["--part", "1/2", "-o", "p.json", "--executor", "dask", "--address", "tcp://x:1"],
            "--part runs one part here, --executor dask runs them all on the cluster",
        ),
        (
            ["--executor", "dask", "--address", "tcp://x:1", "--workers", "2"],
            "--workers starts processes here; with --executor dask leave it out",
        ),
    ],
)
def test_spreading_options_that_do_not_go_together(cli: Cli, extra: list[str], says: str) -> None:
    """--part, --executor and --address refuse what does not go together (exit 2)."""
    code, out, err = cli(*_synthetic(*extra))
    assert (code, out) == (ExitCode.USAGE, "")
    assert err.startswith(f"journeydsl: error: {says}")


@pytest.mark.parametrize(
    "spec", ["3/2", "0/2", "2", "a/b", "1/1000001", "1/99999999999999999999", "1/" + "9" * 5000]
)
def test_a_bad_part_number_is_a_usage_error(capsys: pytest.CaptureFixture[str], spec: str) -> None:
    """--part K/N needs 1 <= K <= N <= 1,000,000 (exit 2, after the usage line): a 20-digit N
    hung, a 5,000-digit one is refused before int() would raise."""
    with pytest.raises(SystemExit) as stopped:
        main(_synthetic("--part", spec, "-o", "p.json"))
    assert stopped.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "error: argument --part: " in err
    assert spec[:40] in err.rsplit("--part: ", 1)[1]
    if spec.startswith("1/9"):
        assert "N must be from 1 to 1,000,000 (merge reads one file per part)" in err


def test_the_dask_executor_without_its_extra_says_how_to_install_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the `distributed` package, --executor dask exits 2 naming the extra to install."""
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    code, out, err = cli(*_synthetic("--executor", "dask", "--address", "tcp://127.0.0.1:1"))
    assert (code, out) == (ExitCode.USAGE, "")
    assert err == (
        "journeydsl: error: --executor dask needs the Dask distributed client, which is not "
        "installed: pip install 'journeydsl[distributed]'\n"
    )


@pytest.mark.parametrize("address", ["ray://head:10001", "127.0.0.1:8786", "nonsense://x"])
def test_an_address_that_is_not_a_dask_schedulers_is_a_usage_error(cli: Cli, address: str) -> None:
    """--address must be a Dask scheduler's tcp:// (tls://, ws://) address: exit 2 at once."""
    code, out, err = cli(*_synthetic("--executor", "dask", "--address", address))
    assert (code, out) == (ExitCode.USAGE, "")
    assert err.startswith(f"journeydsl: error: --address {address}: expected the Dask scheduler's")


def test_the_guides_spreading_commands_run(tmp_path: Path) -> None:
    """docs/simulate.md, "Spreading a simulation": the part/merge block runs as shown and its
    `cmp` finds the merged report equal to the single run's."""
    import os
    import re
    import subprocess
    import sys

    text = (EXAMPLES.parent / "docs" / "simulate.md").read_text(encoding="utf-8")
    section = text.split("## 12. Spreading a simulation", 1)[1]
    script = re.search(r"```sh\n(.*?)```", section, re.S)
    assert script is not None
    (tmp_path / "examples").symlink_to(EXAMPLES)
    shim = tmp_path / "bin" / "journeydsl"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m journeydsl "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"}
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES.parent), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        ["bash", "-e", "-c", script.group(1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "300 instances entered" in (tmp_path / "merged.txt").read_text(encoding="utf-8")

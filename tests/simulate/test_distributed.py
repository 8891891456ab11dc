"""``simulate --executor dask --address tcp://…``: the parts run on a Dask cluster (here a local
one of 2 worker processes) and merge into the report of the local run, byte for byte.

The tests need the ``distributed`` extra (installed by the ``test`` extra); without it they
skip and say why, unless ``JOURNEYDSL_REQUIRE_DISTRIBUTED=1`` (what .ci/run sets): then they
fail."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import pytest

from tests.simulate.conftest import BEHAVIOUR, ONBOARDING, Cli, dormant_args

MODEL = str(BEHAVIOUR / "onboarding.yaml")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a local Dask cluster of 2 worker processes, one thread each."""
    try:  # (by name: the type checker, too, runs without the package)
        distributed = importlib.import_module("distributed")
    except ImportError:
        why = "the `distributed` package is not installed (pip install -e '.[distributed]')"
        if os.environ.get("JOURNEYDSL_REQUIRE_DISTRIBUTED") == "1":
            pytest.fail(f"Dask executor tests required, but {why}")
        pytest.skip(f"Dask executor tests: {why}")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def test_a_dask_cluster_gives_the_local_json(cli: Cli, scheduler: str) -> None:
    """A synthetic run sent to the cluster prints the JSON of the run on this machine."""
    args = ["simulate", ONBOARDING, "--population", "120", "--behaviour", MODEL, "--seed", "7"]
    local = cli(*args, "--format", "json", "-q")
    spread = cli(*args, "--format", "json", "-q", "--executor", "dask", "--address", scheduler)
    assert local[0] == spread[0] == 0
    assert '"entered": 120' in spread[1]
    assert spread[1] == local[1]


def test_a_dask_cluster_gives_the_local_text_and_trace(cli: Cli, scheduler: str) -> None:
    """A recorded run on the cluster prints the local text report and --trace timeline."""
    args = dormant_args("--trace", "d-002")
    local = cli(*args)
    spread = cli(*args, "--executor", "dask", "--address", scheduler)
    assert "timeline of d-002" in local[1]
    assert spread[1] == local[1]

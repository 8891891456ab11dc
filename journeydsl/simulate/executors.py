"""Running a simulation's tasks on a cluster (``simulate --executor dask --address tcp://…``).

The run is split into the same tasks as ``--workers`` splits it; each task goes to a worker of a
`Dask distributed <https://distributed.dask.org>`_ cluster, which compiles the plan's journeys
once (and keeps them for the next tasks of the same plan) and sends back what the task did. The
parent merges the results as they come, in any order, into the report of a single run.

The workers need journeydsl (the ``distributed`` extra: ``pip install 'journeydsl[distributed]'``)
and the run's files (journeys, catalogs, behaviour, policies) at the paths given on the command
line, relative to their working folder: a shared checkout or volume, or a container image.
``distributed`` is imported only when this executor runs.
"""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from journeydsl.simulate.parallel import Context, Executor, Plan, _Part, _run_part, _Task

__all__ = ["EXTRA", "ExecutorError", "dask_executor"]

#: The package extra that installs the Dask client and worker.
EXTRA = "pip install 'journeydsl[distributed]'"

#: How long the client waits for the scheduler before it gives up.
CONNECT_TIMEOUT = "20s"


class ExecutorError(Exception):
    """The cluster could not be used: the extra is missing, the scheduler cannot be reached,
    or a task failed on a worker (the message says which)."""


def _import_distributed() -> Any:
    # (by name: the type checker, too, runs without the extra)
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise ExecutorError(
            f"--executor dask needs the Dask distributed client, which is not installed: {EXTRA}"
        ) from None


#: In a worker process: the contexts of the plans it has run tasks of (one per run).
_CONTEXTS: dict[Plan, Context] = {}


def run_task(plan: Plan, task: _Task) -> tuple[int, list[_Part]]:
    """A task, on a cluster worker: compile the plan's journeys the first time, then simulate."""
    context = _CONTEXTS.get(plan)
    if context is None:
        import logging
        import sys

        import structlog

        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        )
        _CONTEXTS.clear()  # a worker keeps the journeys of one run at a time
        context = _CONTEXTS[plan] = Context.load(plan)
    return task.size, _run_part(context, plan, task)


def dask_executor(address: str) -> Executor:
    """An executor that sends each task to the Dask scheduler at ``address`` (``tcp://host:port``)
    and yields the results as they finish. Raises :class:`ExecutorError` when ``distributed``
    is not installed; the connection is made when the tasks are run."""
    distributed = _import_distributed()

    def run(plan: Plan, tasks: Sequence[_Task]) -> Iterator[tuple[int, list[_Part]]]:
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        run_id = uuid.uuid4().hex  # task keys of their own, whoever else uses the cluster
        with contextlib.closing(client):
            futures = [
                client.submit(run_task, plan, task, pure=False, key=f"journeydsl-{run_id}-{i}")
                for i, task in enumerate(tasks)
            ]
            for future in distributed.as_completed(futures, loop=client.loop):
                try:
                    done: tuple[int, list[_Part]] = future.result()
                except Exception as exc:
                    raise ExecutorError(
                        f"a part failed on the Dask cluster at {address}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from None
                future.release()
                yield done

    return run

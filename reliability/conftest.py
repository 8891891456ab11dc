"""The reliability campaigns at CI size: ``pytest reliability -m campaign`` from the repository
root. Every test here carries the ``campaign`` marker (registered in pyproject.toml); the full-size
runs are ``python -m reliability.NAME --size N`` (see docs/reliability.md)."""

from __future__ import annotations

import logging

import pytest
import structlog

# The engine logs each send at info level; campaigns report through their figures.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a test in reliability/ without the campaign marker: `-m campaign` must run all."""
    for item in items:
        if (
            "reliability" in item.nodeid.split("/")[0]
            and item.get_closest_marker("campaign") is None
        ):
            raise pytest.UsageError(f"{item.nodeid} needs @pytest.mark.campaign")

"""The example catalogs for journeys that tests write to a temporary folder: a journey reads its
catalogs only from inside its own folder (or the root given), so they are copied next to it."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: The header lines of a journey that uses the example catalogs copied beside it.
USES = 'uses events "events.yaml"\nuses templates "templates.yaml"\n'


def example_catalogs_in(folder: Path) -> Path:
    """Copy the example events and templates catalogs into ``folder``; returns ``folder``."""
    for name in ("events.yaml", "templates.yaml"):
        shutil.copyfile(EXAMPLES / name, folder / name)
    return folder

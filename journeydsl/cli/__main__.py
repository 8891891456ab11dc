"""``python -m journeydsl.cli`` runs the CLI, as ``python -m journeydsl`` does."""

import sys

from journeydsl.cli import main

sys.exit(main())

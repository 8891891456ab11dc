"""``python -m journeydsl`` runs the CLI."""

import sys

from journeydsl.cli import main

sys.exit(main())

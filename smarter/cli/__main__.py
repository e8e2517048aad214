"""`python -m smarter.cli` runs the same program as the `smarter` console script."""

import sys

from smarter.cli.main import run

sys.exit(run())

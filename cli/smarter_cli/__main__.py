"""`python -m smarter_cli` runs the same program as the `smarter` console script."""

import sys

from smarter_cli.main import run

sys.exit(run())

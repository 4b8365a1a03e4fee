"""`python -m notify_admin`: see notify_admin.cli."""

import sys

from notify_admin.cli import run

sys.exit(run())

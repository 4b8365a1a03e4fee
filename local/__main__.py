"""`python -m local` (what `make run` runs): see local/stack.py."""

import sys

from local.stack import main

sys.exit(main())

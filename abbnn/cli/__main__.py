"""`python -m abbnn.cli ...` runs the `abbnn` command, as `python -m abbnn` does."""

import sys

from abbnn.cli import main

sys.exit(main())

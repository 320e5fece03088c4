"""`python -m abbnn ...` runs the `abbnn` command."""

import sys

from abbnn.cli import main

sys.exit(main())

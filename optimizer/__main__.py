"""`python -m optimizer` is the `riskopt` command."""

import sys

from optimizer.cli import main

sys.exit(main())

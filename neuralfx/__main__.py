"""`python -m neuralfx ...`: the `neuralfx` command, where the script is not on PATH."""

import sys

from .cli import main

sys.exit(main())

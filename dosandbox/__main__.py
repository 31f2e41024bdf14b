"""``python -m dosandbox ...``: the same command line as the ``dosandbox`` script."""

import sys

from .cli import main

sys.exit(main())

"""`python -m papershelf.cli`, as the tests run it."""

import sys

from . import main

sys.exit(main())

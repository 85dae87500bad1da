"""``python -m adapters`` is ``blo-import``."""

import sys

from adapters.cli import main

sys.exit(main())

"""``python -m gateway`` is ``blo-gateway``."""

import sys

from gateway.cli import main

sys.exit(main())

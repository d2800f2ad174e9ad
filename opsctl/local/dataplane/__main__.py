"""`python -O -m opsctl.local.dataplane`: see server.py."""

import sys

from opsctl.local.dataplane.server import main

sys.exit(main())

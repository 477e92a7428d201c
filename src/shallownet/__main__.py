"""``python -m shallownet`` runs the command-line interface."""

import sys

from shallownet.cli import main

sys.exit(main())

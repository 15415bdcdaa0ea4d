"""``python -m sklearn_zsfuse.cli``: the ``zsfuse`` command."""

import sys

from . import main

sys.exit(main())

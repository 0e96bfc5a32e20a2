"""``python -m contig``: see :mod:`contig.cli`."""

from .cli import main

raise SystemExit(main())

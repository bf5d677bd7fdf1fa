"""python -m annotate_client: the command-line tool."""

from .cli import main

raise SystemExit(main())

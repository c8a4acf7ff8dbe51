"""``python -m molgan`` runs the command line."""

from molgan.cli import main

raise SystemExit(main())

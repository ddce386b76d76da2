"""`python -m rag.cli`: the same as the `rag` command."""
import sys

from rag.cli.commands import main

sys.exit(main())

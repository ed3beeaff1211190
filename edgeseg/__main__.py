"""``python -m edgeseg``."""

from edgeseg.cli.main import entry

entry()

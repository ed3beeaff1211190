"""Entry point: ``main(argv) -> exit code``; user errors become ``error: ...`` and exit 2."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from edgeseg import __version__
from edgeseg.errors import EdgesegError

# One module per subcommand, in help order. Each defines ``register(subparsers)``, which adds
# its parser and sets ``handler`` (a callable taking the parsed args and returning an exit code).
# Heavy imports (TensorFlow, runtimes) happen inside the handlers, never at import time.
SUBCOMMANDS: tuple[str, ...] = (
    "data",
    "models",
    "train",
    "predict",
    "bench",
    "convert",
    "lint",
)

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as a single ``error: ...`` line and exit code 2."""

    def error(self, message: str) -> "None":  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> ArgumentParser:
    """The full parser with every registered subcommand."""
    parser = ArgumentParser(
        prog="edgeseg",
        description="Train, quantise, export, verify and benchmark segmentation models for the edge.",
    )
    parser.add_argument("--version", action="version", version=f"edgeseg {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"edgeseg.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (never raises for user errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args) or 0)
    except EdgesegError as exc:
        sys.stderr.write(f"error: {_one_line(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()

"""Entry point: ``main(argv) -> exit code``; user errors become ``error: ...`` and exit 2."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from edgeseg import __version__
from edgeseg.errors import EdgesegError, one_line

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


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """States every option's default in ``--help``: appends ``(default: X)`` unless the help already
    names its default (options whose default is ``None`` say in words what happens)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default is None or default is argparse.SUPPRESS or isinstance(default, bool)
                or not action.option_strings or action.nargs == 0 and not isinstance(default, int)):
            return text
        return f"{text} (default: {_shown(default)})"

    def _split_lines(self, text: str, width: int) -> list[str]:
        # never break inside a hyphenated word (onnx-int8, --json-out)
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _shown(default: Any) -> str:
    shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
    return shown.replace("%", "%%")


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as a single ``error: ...`` line and exit code 2, and shows
    every default in ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

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
    _finish(parser)
    return parser


def _finish(parser: argparse.ArgumentParser) -> None:
    """In every nested parser: ``-v`` also after the subcommand (``edgeseg bench -v ...``), and options
    registered without help text still show their default."""
    for action in parser._actions:  # pylint: disable=protected-access
        if isinstance(action, argparse._SubParsersAction):  # pylint: disable=protected-access
            for child in dict.fromkeys(action.choices.values()):
                if not any("-v" in a.option_strings for a in child._actions):  # pylint: disable=protected-access
                    child.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                                       help="more log output (-vv for debug)")
                _finish(child)
        elif (action.help is None and action.option_strings and action.nargs != 0
              and action.default not in (None, False, argparse.SUPPRESS)):
            action.help = f"(default: {_shown(action.default)})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (never raises for user errors)."""
    parser = build_parser()
    try:
        args = _parse(parser, argv)
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
        sys.stderr.write(f"error: {one_line(exc)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


def _parse(parser: ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parse_args``, except that a subcommand naming ``late_positionals`` (a list attribute) also takes
    positionals that follow its options (``bench a.tflite --json b.onnx``; argparse leaves those over)."""
    args, extra = parser.parse_known_args(argv)
    late = getattr(args, "late_positionals", None)
    if extra and late and not any(e.startswith("-") and e != "-" for e in extra):
        setattr(args, late, [*getattr(args, late), *(Path(e) for e in extra)])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args



def entry() -> None:
    """Console-script entry point."""
    code = main()
    from edgeseg.core.native_log import silence_teardown

    silence_teardown()
    sys.exit(code)


if __name__ == "__main__":
    entry()

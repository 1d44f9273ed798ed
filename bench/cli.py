"""The ``bench`` command line.

Exit codes (documented in README): 0 ok, 2 usage/bad input, 3 infrastructure (a datastore,
binary or engine missing or failing), 4 regression found by ``bench compare``, 130 interrupted.
Every ``CartbenchError`` is printed as one line without a traceback.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import click

from bench import __version__
from bench.errors import EXIT_INTERRUPTED, CartbenchError, Interrupted


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


def install_signal_handlers() -> None:
    """SIGTERM behaves like Ctrl-C: an exception unwinds through every ``finally``."""
    signal.signal(signal.SIGTERM, _raise_interrupted)


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        loader = _COMMANDS.get(cmd_name)
        return loader() if loader else None


def _lazy(module: str, attr: str) -> Callable[[], click.Command]:
    def load() -> click.Command:
        import importlib

        cmd: click.Command = getattr(importlib.import_module(module), attr)
        return cmd

    return load


# Commands load lazily: ``bench run`` must import locust (gevent) before any DB driver.
_COMMANDS: dict[str, Callable[[], click.Command]] = {
    "up": _lazy("bench.commands.lifecycle", "up"),
    "down": _lazy("bench.commands.lifecycle", "down"),
    "status": _lazy("bench.commands.lifecycle", "status"),
    "run": _lazy("bench.commands.run", "run"),
    "worker": _lazy("bench.commands.run", "worker"),
    "findmax": _lazy("bench.commands.findmax", "findmax"),
    "list": _lazy("bench.commands.run", "list_cmd"),
    "report": _lazy("bench.commands.report", "report"),
    "compare": _lazy("bench.commands.report", "compare"),
    "history": _lazy("bench.commands.history", "history"),
}


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cartbench")
def cli() -> None:
    """cartbench: which datastore architecture survives your holiday peak?"""


def main(argv: list[str] | None = None) -> Any:
    install_signal_handlers()
    try:
        return cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as exc:
        # one line, like every other error; the full usage is one --help away
        hint = (
            f" (see: bench {exc.ctx.info_name} --help)"
            if exc.ctx and exc.ctx.info_name != "bench"
            else ""
        )
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except CartbenchError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()

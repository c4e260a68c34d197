"""The `trustcheck` command: one Typer app, sub-commands registered from their own modules, and
the one place that turns outcomes into exit codes.

Each command module exposes `register(app)`; modules import heavy libraries (torch, transformers,
scikit-learn, litellm) only inside command bodies so `trustcheck scan` starts fast.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from trustcheck.errors import ExitCode, TrustcheckError

# The registry: module -> registers its commands. Order is the order in `--help`.
COMMAND_MODULES = (
    "trustcheck.cli.scan",  # scan
    "trustcheck.cli.rules",  # rules list|show|test
    "trustcheck.cli.ci",  # ci, baseline create|update
    "trustcheck.cli.anomaly",  # anomaly fit|score
    "trustcheck.cli.generate",  # generate, consensus
    "trustcheck.cli.models",  # models list|info|train
)
# Commands whose start-up matters (pre-commit hooks scan a few files per run): invoked directly,
# only their module is imported and registered (typer inspects every command's signature).
FAST_COMMANDS = {"scan": "trustcheck.cli.scan"}


def build_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    app = typer.Typer(
        name="trustcheck",
        help="Validate AI-generated code and generate code it can vouch for.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    @app.callback()
    def root() -> None:
        """Validate AI-generated code and generate code it can vouch for."""

    @app.command()
    def version() -> None:
        """Print trustcheck's version."""
        from trustcheck import __version__

        print(__version__)

    for module_name in modules:
        importlib.import_module(module_name).register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and maps every outcome to an ExitCode (see DESIGN.md)."""
    try:
        args = sys.argv[1:] if argv is None else argv
        fast = FAST_COMMANDS.get(args[0]) if args else None
        command = typer.main.get_command(build_app((fast,) if fast else COMMAND_MODULES))
        result = command.main(args=argv, prog_name="trustcheck", standalone_mode=False)
        code = int(result) if isinstance(result, int) else ExitCode.OK
    except TrustcheckError as exc:
        print(f"trustcheck: error: {exc.render()}", file=sys.stderr)
        code = exc.exit_code
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        code = ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        print("trustcheck: interrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        code = ExitCode.OK
    except Exception as exc:  # noqa: BLE001 - the funnel for bugs: log the traceback, say where it is
        if _is_click_error(exc):  # bad usage: typer vendors click, so match its shape, not its class
            exc.show(file=sys.stderr)  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", ExitCode.USAGE))
        import tempfile
        import traceback

        fd, log_path = tempfile.mkstemp(prefix="trustcheck-crash-", suffix=".log")
        with os.fdopen(fd, "w") as log:
            traceback.print_exc(file=log)
        print(f"trustcheck: internal error: {sys.exc_info()[1]!r}\n  details: {log_path}", file=sys.stderr)
        code = ExitCode.INTERNAL
    return int(code)


def _is_click_error(exc: BaseException) -> bool:
    return callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int)


def run() -> None:  # pragma: no cover - console-script shim used by `python -m trustcheck`
    sys.exit(main())

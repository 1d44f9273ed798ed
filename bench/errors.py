"""The exception hierarchy and the exit codes it maps to.

    CartbenchError            base; carries ``exit_code``
    ├── UsageError            exit 2: bad arguments, bad profile/config files, bad result files
    ├── InfraError            exit 3: a datastore/engine/binary is missing or failed to start
    └── RegressionFound       exit 4: ``bench compare`` found a regression beyond the threshold

Ctrl-C / SIGTERM exit with 130 after cleanup (``Interrupted`` is a ``KeyboardInterrupt``).  Every ``CartbenchError`` is printed by the CLI
as one line (``error: ...``) with no traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INFRA = 3
EXIT_REGRESSION = 4
EXIT_INTERRUPTED = 130


class CartbenchError(Exception):
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(CartbenchError):
    exit_code = EXIT_USAGE


class InfraError(CartbenchError):
    exit_code = EXIT_INFRA


class RegressionFound(CartbenchError):
    exit_code = EXIT_REGRESSION


class Interrupted(KeyboardInterrupt):
    """Raised from the SIGTERM handler so ``finally`` blocks tear everything down, exactly as
    for Ctrl-C. A ``KeyboardInterrupt`` (not an ``Exception``) so that no ``except Exception``
    in a polling loop can swallow it."""

    exit_code = EXIT_INTERRUPTED

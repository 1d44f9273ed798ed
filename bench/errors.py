"""The exception hierarchy and the exit codes it maps to.

    CartbenchError            base; carries ``exit_code``
    ├── UsageError            exit 2: bad arguments, bad profile/config files, bad result files
    ├── InfraError            exit 3: a datastore/engine/binary is missing or failed to start
    └── RegressionFound       exit 4: ``bench compare`` found a regression beyond the threshold

Ctrl-C / SIGTERM exit with 130 after cleanup.  Every ``CartbenchError`` is printed by the CLI
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


class Interrupted(CartbenchError):
    """Raised from a signal handler (SIGINT/SIGTERM) so ``finally`` blocks tear everything down."""

    exit_code = EXIT_INTERRUPTED

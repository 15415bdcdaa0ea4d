"""What the command tells apart: a user's mistake (exit status 2) from a bug (exit status 1).

A command's ``check`` raises :class:`UsageError` for an option's value or a
combination of options (said the argparse way, ``zsfuse CMD: error: ... (see
zsfuse CMD --help)``), and :class:`UserInputError` for something the user gave
that cannot be used (a file that is no model, a label no clip has): one line,
``zsfuse CMD: ...``. The package's own errors about the user's input
(:func:`user_errors`) are reported the same way. Anything else, a ValueError
from inside the package included, is a bug: one line and exit status 1.
"""

from __future__ import annotations

__all__ = ["UsageError", "UserInputError", "user_errors"]


class UserInputError(Exception):
    """What the user gave cannot be used (a file, a folder, a corpus, a value): one line, exit status 2."""


class UsageError(UserInputError):
    """An option's value, or a combination of options, is wrong: argparse's one line, exit status 2."""


def user_errors() -> tuple[type, ...]:
    """The exception types that mean the user's input is wrong: this module's and the package's.

    An OSError is about a path or the machine (a missing file, a full disk, no
    permission), not the package's code.
    """
    from ..audio import AudioInputError
    from ..datasets import CorpusError
    from ..encoders import DeviceError, MissingExtraError, ModelLoadError, ModelMismatchError
    from ..encoders.checkpoint import UnsafeCheckpointError
    from ..estimators.params import ParameterError

    return (UserInputError, AudioInputError, CorpusError, ModelLoadError, ModelMismatchError, MissingExtraError,
            UnsafeCheckpointError, DeviceError, ParameterError, OSError)

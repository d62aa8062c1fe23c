"""One line for every bad input: the entry point every tool runs through.

    if __name__ == '__main__':
        run_cli(main)

A known error (a bad genotype, checkpoint, dataset, config value or a
missing file) prints one line ``error: ...`` on stderr and exits with 2;
anything else is a bug and keeps its traceback. ``--debug`` anywhere on the
command line (or ``AUTONL_DEBUG=1``) shows the traceback of known errors
too.
"""
import os
import pickle
import re
import sys

from ..datasets.checks import DataError
from ..models.utils.genotype import GenotypeError
from .checkpoint import CheckpointError, weights_only_reason

DEBUG_FLAG = '--debug'
DEBUG_ENV = 'AUTONL_DEBUG'

# Bad inputs, not bugs. ValueError covers bad config values (our modules'
# argument checks, JSON/UTF-8 decoding); KeyError and TypeError count only
# when MMEngine raised them while building an object from the config.
KNOWN_ERRORS = (GenotypeError, CheckpointError, DataError, ValueError,
                FileNotFoundError, IsADirectoryError, NotADirectoryError,
                PermissionError, pickle.UnpicklingError)
CONFIG_BUILD_ERRORS = (KeyError, TypeError)
# mmengine's build_from_cfg re-raises "class `X` in pkg/mod.py: <message>"
_BUILD_PREFIX = re.compile(r'^class `\w+` in [\w/.]+\.py: ')


class InvocationError(SystemExit):
    """A bad command line: printed as one line, exit code 2."""

    def __init__(self, message):
        super().__init__(2)
        self.message = message


def fail(message):
    """Print ``error: message`` and exit with 2 (even without run_cli)."""
    print(f'error: {message}', file=sys.stderr)
    raise InvocationError(message)


def _is_known(error):
    if isinstance(error, KNOWN_ERRORS):
        return True
    if isinstance(error, CONFIG_BUILD_ERRORS):
        message = error.args[0] if error.args else ''
        return isinstance(message, str) and (
            bool(_BUILD_PREFIX.match(message)) or 'registry' in message)
    return False


def one_line(error):
    """The message of a known error, as one line."""
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f'{error.strerror}: {error.filename}'
    message = error.args[0] if isinstance(error, KeyError) and \
        error.args else str(error)
    message = str(message)
    if 'Original Traceback' in message:
        # re-raised from a DataLoader worker: the worker's own last line
        last = message.strip().splitlines()[-1]
        message = re.sub(r'^[\w.]+: ', '', last)
    reason = weights_only_reason(error)
    if reason is not None:
        message = f'refused by torch.load(weights_only=True): {reason}'
    while _BUILD_PREFIX.match(message):
        message = _BUILD_PREFIX.sub('', message, count=1)
    return ' '.join(message.split()) or type(error).__name__


def run_cli(main, argv=None):
    """Run ``main(argv)`` with one-line errors; return what it returns."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv or \
        os.environ.get(DEBUG_ENV, '') not in ('', '0')
    if debug:
        argv = [arg for arg in argv if arg != DEBUG_FLAG]
        os.environ[DEBUG_ENV] = '1'  # child processes (dist launch) too
    try:
        return main(argv)
    except Exception as error:  # noqa: B902  (sorted below)
        if debug or not _is_known(error):
            raise
        print(f'error: {one_line(error)}', file=sys.stderr)
        raise SystemExit(2) from None

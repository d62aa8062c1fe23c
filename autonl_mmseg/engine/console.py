"""What the terminal shows while our tools run; the log file keeps
everything.

MMEngine's Runner logs, before the first iteration, the environment, the
whole config, the hook order and (with ``paramwise_cfg``) one line per
parameter: hundreds of lines before the first progress line. Our tools
build their Runner through :func:`build_quiet_runner`, whose console
handler leaves those records to the log file, and register
:class:`ConsoleProgressHook`, which prints a progress line with the ETA
after the first iteration instead of waiting for the LoggerHook's interval.
Long-running tools without a Runner show a :func:`progress_bar`.
"""
import logging
import re
import time

from mmengine.hooks import Hook, LoggerHook
from mmengine.registry import HOOKS

#: Records that go to the log file only (matched at the message's start):
#: MMEngine's dumps of the environment, the config and the hook order, the
#: per-parameter lines (optimizer ``paramwise_cfg``; init info, which
#: MMEngine prints when there is no log file), the experiment name repeated
#: every epoch, and upstream notices nobody can act on (SyncBN reverted
#: without a process group, deprecations).
FILE_ONLY = re.compile('|'.join([
    r'\n-+\nSystem environment:',
    r'Config:\n',
    r'Hooks will be executed in the following order',
    r'paramwise_options -- ',
    r'\n\S+ - torch\.Size\(',
    r'Exp name: ',
    r'Distributed training is not used, all SyncBatchNorm',
    r'The prefix is not set in metric class',
    r'"FileClient" will be deprecated',
    r'"HardDiskBackend" is the alias',
]))


class FileOnlyFilter(logging.Filter):
    """Drop :data:`FILE_ONLY` records (on console handlers)."""

    def filter(self, record):
        return not FILE_ONLY.match(record.getMessage())


def quiet_console(logger):
    """Keep :data:`FILE_ONLY` records off ``logger``'s console handlers
    (its file handlers still get them). Idempotent."""
    for handler in logger.handlers:
        if (isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)
                and not any(isinstance(f, FileOnlyFilter)
                            for f in handler.filters)):
            handler.addFilter(FileOnlyFilter())
    return logger


def build_quiet_runner(cfg, runner_cls):
    """``runner_cls.from_cfg(cfg)`` with :func:`quiet_console` applied to
    its logger as soon as it exists (the Runner logs its dumps from
    ``__init__``), a start line naming the log file, and a
    :class:`ConsoleProgressHook`."""

    class QuietRunner(runner_cls):

        def build_logger(self, *args, **kwargs):
            logger = quiet_console(super().build_logger(*args, **kwargs))
            log_file = next((h.baseFilename for h in logger.handlers
                             if isinstance(h, logging.FileHandler)), None)
            logger.info(f'{cfg.filename} -> {self.work_dir} (config, '
                        f'environment and details: {log_file})')
            return logger

    QuietRunner.__name__ = QuietRunner.__qualname__ = runner_cls.__name__
    runner = QuietRunner.from_cfg(cfg)
    runner.register_hook(dict(type='ConsoleProgressHook'))
    return runner


@HOOKS.register_module()
class ConsoleProgressHook(Hook):
    """Progress lines between the LoggerHook's own.

    After the first iteration of every train / val / test run, and then
    whenever ``interval`` seconds pass without a LoggerHook line, it logs
    the line that the LoggerHook would (iteration, ETA, time, losses).
    It adds nothing to the scalars (``scalars.json``, curves), so runs log
    the same metrics with or without it.

    Args:
        interval (float): Seconds without a progress line after which one
            is logged. Default: 10.
    """

    priority = 'BELOW_NORMAL'  # after IterTimerHook, which updates the ETA

    def __init__(self, interval=10.):
        self.interval = interval
        self._last = {}

    def before_train(self, runner):
        self._last.pop('train', None)

    def before_val(self, runner):
        self._last.pop('val', None)

    def before_test(self, runner):
        self._last.pop('test', None)

    def _after_iter(self, runner, batch_idx, data_batch=None, outputs=None,
                    mode='train'):
        logger_hook = next(
            (h for h in runner.hooks if isinstance(h, LoggerHook)), None)
        if logger_hook is None:
            return
        now = time.monotonic()
        # the LoggerHook's own condition for a line at this iteration
        logged = logger_hook.every_n_inner_iters(batch_idx,
                                                 logger_hook.interval)
        if mode == 'train':
            logged = logged or logger_hook.end_of_epoch(
                runner.train_dataloader, batch_idx)
        last = self._last.get(mode)
        if not logged and (last is None or now - last >= self.interval):
            _, line = runner.log_processor.get_log_after_iter(
                runner, batch_idx, mode)
            runner.logger.info(line)
            logged = True
        if logged:
            self._last[mode] = now


def progress_bar(**kwargs):
    """A rich progress bar on stderr (description, bar, done/total,
    elapsed, ETA) for tools that run long without a Runner; it disappears
    when done. Use as ``with progress_bar() as bar: task =
    bar.add_task('...', total=n); ...; bar.advance(task)``; ``print``
    inside the block prints above the bar."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                               TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    kwargs.setdefault('transient', True)
    kwargs.setdefault('console', Console(stderr=True))
    return Progress(
        TextColumn('{task.description}'), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn('eta'), TimeRemainingColumn(),
        **kwargs)

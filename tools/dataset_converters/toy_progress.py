"""A progress bar for the toy data generators.

``toy_scenes.py`` renders one image per call of ``render_scene`` (toy VOC)
or ``render_object_crop`` (toy ImageNet) and takes no progress callback, so
the generators count those calls while they run. Only ``rich`` is needed
(the generators stay free of torch; ``autonl_mmseg.engine.progress_bar`` is
the same bar for the other tools).
"""
from contextlib import contextmanager


@contextmanager
def count_calls(module, name, total, description):
    """Show a progress bar (stderr; gone when done) advanced by every call
    of ``module.name`` inside the block."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                               TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    func = getattr(module, name)
    with Progress(TextColumn('{task.description}'), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn('eta'), TimeRemainingColumn(), transient=True,
                  console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)

        def counted(*args, **kwargs):
            result = func(*args, **kwargs)
            bar.advance(task)
            return result

        setattr(module, name, counted)
        try:
            yield
        finally:
            setattr(module, name, func)

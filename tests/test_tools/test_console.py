"""What tools/train.py shows on the terminal: a start line, progress with
the ETA after the first iteration, results; the dumps go to the log file
only. Misuse gets one line."""
import re

import pytest
import torch

from conftest import SEG_CONFIG, run_tool

DUMPS = ('System environment', 'Config:', 'Hooks will be executed',
         'paramwise_options', 'torch.Size(', 'pkg_resources', 'Warning')


def log_file(run):
    """The log file that the start line names."""
    start = run.output.splitlines()[0]
    match = re.search(r'details: (\S+\.log)\)', start)
    assert match, start
    with open(match.group(1)) as f:
        return f.read()


@pytest.mark.parametrize('which', ['seg', 'cls'])
def test_terminal_quiet_log_file_complete(which, seg_run, cls_runs):
    run = seg_run if which == 'seg' else cls_runs['mobilenet-v2']
    lines = run.output.splitlines()
    # the first line says what runs, where, and where the details are
    assert run.config in lines[0] and str(run.work_dir) in lines[0]
    for dump in DUMPS:
        assert dump not in run.output, (dump, run.output[:3000])
    log = log_file(run)
    for dump in DUMPS[:3] + (('torch.Size(', ) if which == 'seg' else
                             ('paramwise_options', )):
        assert dump in log, dump
    assert len(log.splitlines()) > 10 * len(lines)


def test_progress_with_eta_after_the_first_iteration(seg_run):
    """The LoggerHook logs every 20 iterations; ConsoleProgressHook shows
    iteration 1 with its ETA at once."""
    lines = seg_run.output.splitlines()
    first = next(i for i, line in enumerate(lines) if 'Iter(train)' in line)
    assert '[1/2]' in lines[first] and 'eta:' in lines[first]
    assert first <= 3, lines[:first + 1]  # start line, checkpoint dir
    assert 'mIoU' in seg_run.output  # the result
    # progress lines are no scalars: with interval 20 (and 4 iterations
    # per epoch) the LoggerHook recorded no training step of these 2, and
    # the curves hold none either
    scalars = next(seg_run.work_dir.glob('*/vis_data/scalars.json'))
    assert not [line for line in scalars.read_text().splitlines()
                if '"loss"' in line]


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU machine')
def test_amp_without_gpu_is_one_line(tmp_path):
    proc = run_tool(['tools/train.py', SEG_CONFIG, '--amp', '--work-dir',
                     str(tmp_path)], check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line]
    assert lines == [lines[0]] and lines[0].startswith('error: --amp'), \
        proc.stderr[-2000:]

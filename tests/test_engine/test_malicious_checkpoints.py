"""Crafted malicious checkpoints never run code: every file below would
create a marker directory when unpickled by a plain ``pickle.load``; fed to
tools/test.py, ``load_from``, ``--resume``, tools/export_genotype.py and a
``Pretrained`` init_cfg (and straight to MMEngine's loader), each must be
refused with one line and the markers must not exist."""
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from conftest import ROOT, cls_data_options

CLS = 'configs/autonl/toy/mobilenet-v2_toy-in1k.py'
SEARCH = 'configs/autonl/toy/autonl_search_toy-in1k.py'


class Call:
    """Pickles as ``func(*args)``; ``func`` may itself be a ``Call``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __call__(self):  # pickle wants a callable
        raise AssertionError('never called here')

    def __reduce__(self):
        return self.func, self.args


def payloads(marker):
    """Eight ways in; each creates ``marker/<name>`` if unpickled."""

    def target(name):
        return os.path.join(marker, name)

    def checkpoint(**extra):
        state = dict(meta=dict(epoch=1, iter=3), state_dict=dict(
            w=torch.zeros(2)))
        state.update(extra)
        return state

    def mkdir_via_globals(function, name):
        """getattr gadget: function.__globals__['__builtins__']
        ['__import__']('os').mkdir(marker/name)."""
        globals_ = Call(getattr, function, '__globals__')
        builtins = Call(Call(getattr, globals_, '__getitem__'),
                        '__builtins__')
        os_module = Call(Call(Call(getattr, builtins, '__getitem__'),
                              '__import__'), 'os')
        return Call(Call(getattr, os_module, 'mkdir'), target(name))

    history = HistoryBuffer()
    history.update(1.0)
    history._log_history = np.array([Call(os.mkdir, target('history'))],
                                    dtype=object)
    inner = pickle.dumps(Call(os.mkdir, target('nested')))
    return {
        'payload_in_meta': checkpoint(meta=dict(
            epoch=1, iter=3, note=Call(os.mkdir, target('meta')))),
        'payload_in_state_dict': checkpoint(state_dict=dict(
            w=Call(exec, f'import os; os.mkdir({target("state")!r})'))),
        'legacy_format': ('legacy', checkpoint(meta=dict(
            epoch=1, iter=3, x=Call(os.system, f'mkdir {target("legacy")}')))),
        # HistoryBuffer.min is what the allow-list maps getattr to
        'getattr_via_min': checkpoint(meta=dict(
            epoch=1, iter=3, x=mkdir_via_globals(HistoryBuffer.min, 'min'))),
        'getattr_via_statistics': checkpoint(meta=dict(
            epoch=1, iter=3, x=mkdir_via_globals(
                Call(getattr, HistoryBuffer, 'statistics'), 'statistics'))),
        'numpy_object_array': checkpoint(meta=dict(epoch=1, iter=3, x=np.array(
            [Call(os.mkdir, target('numpy'))], dtype=object))),
        'history_buffer_state': checkpoint(message_hub=dict(
            log_scalars={'train/loss': history})),
        'nested_pickle_loads': checkpoint(meta=dict(
            epoch=1, iter=3, x=Call(pickle.loads, inner))),
    }


def write_payloads(directory, marker):
    paths = {}
    for name, obj in payloads(marker).items():
        path = directory / f'{name}.pth'
        if isinstance(obj, tuple):  # the pre-1.6 (non-zip) format
            torch.save(obj[1], path, _use_new_zipfile_serialization=False)
        else:
            torch.save(obj, path)
        paths[name] = path
    return paths


@pytest.fixture
def marker(tmp_path):
    marker = tmp_path / 'marker'
    marker.mkdir()
    yield marker
    assert os.listdir(marker) == [], 'a payload ran'


def test_the_payloads_are_real(tmp_path):
    """Unpickled without the weights-only guard, each file runs its code
    (in a child process; so the files test something)."""
    marker = tmp_path / 'marker'
    marker.mkdir()
    paths = write_payloads(tmp_path, marker)
    code = ('import sys, torch\n'
            'for path in sys.argv[1:]:\n'
            '    try:\n'
            '        torch.load(path, weights_only=False)\n'
            '    except Exception:\n'
            '        pass\n')
    subprocess.run([sys.executable, '-c', code, *map(str, paths.values())],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    made = set(os.listdir(marker))
    assert made == {'meta', 'state', 'legacy', 'min', 'statistics', 'numpy',
                    'history', 'nested'}


def test_mmengine_loader_refuses(tmp_path, marker):
    import autonl_mmseg  # noqa: F401
    from mmengine.runner.checkpoint import CheckpointLoader
    for path in write_payloads(tmp_path, marker).values():
        with pytest.raises(pickle.UnpicklingError):
            CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_tools_refuse_with_one_line(toy_imagenet_root, tmp_path, marker):
    paths = write_payloads(tmp_path, marker)
    data = cls_data_options(toy_imagenet_root)
    cases = []
    for name, path in paths.items():
        resume_dir = tmp_path / f'resume_{name}'
        resume_dir.mkdir()
        os.link(path, resume_dir / 'epoch_1.pth')
        (resume_dir / 'last_checkpoint').write_text(
            str(resume_dir / 'epoch_1.pth'))
        work = ['--work-dir', str(tmp_path / f'work_{name}')]
        cases += [
            dict(id=f'test.py/{name}', tool='tools/test.py',
                 argv=[CLS, str(path), *work, '--cfg-options', *data]),
            dict(id=f'load_from/{name}', tool='tools/train.py',
                 argv=[CLS, *work, '--cfg-options', *data,
                       f'load_from={path}']),
            dict(id=f'resume/{name}', tool='tools/train.py',
                 argv=[CLS, '--work-dir', str(resume_dir), '--resume',
                       '--cfg-options', *data,
                       f'experiment_name=resume_{name}']),
            dict(id=f'export_genotype/{name}',
                 tool='tools/export_genotype.py',
                 argv=[SEARCH, str(path), str(tmp_path / 'g.json')]),
            dict(id=f'pretrained/{name}', tool='tools/train.py',
                 argv=[CLS, *work, '--cfg-options', *data,
                       'model.backbone.init_cfg.type=Pretrained',
                       f'model.backbone.init_cfg.checkpoint={path}']),
        ]
    cases_file, out = tmp_path / 'cases.json', tmp_path / 'out.json'
    cases_file.write_text(json.dumps(cases))
    proc = subprocess.run(
        [sys.executable, 'tests/test_tools/tool_driver.py', str(cases_file),
         str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(out.read_text())['results']
    assert len(results) == 40
    for result in results:
        lines = [line for line in result['stderr'].splitlines() if line]
        name = result['id'].split('/')[1]
        assert result['code'] == 2 and len(lines) == 1, result
        assert lines[0].startswith('error: '), result
        assert f'{name}.pth' in lines[0] or 'epoch_1.pth' in lines[0], result
        assert 'refused by torch.load(weights_only=True)' in lines[0], result
    print(f'\n{len(results)} malicious loads refused with one line, '
          f'{len(os.listdir(marker))} payloads ran')

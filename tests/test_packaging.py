"""A non-editable install carries the shipped genotypes: AutoNLNet builds
them by name with neither the source tree nor its cwd on the path."""
import os
import shutil
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = textwrap.dedent('''
    import os, sys
    target = sys.argv[1]
    # only the installed copy may provide the package (the venv may hold an
    # editable install pointing at a checkout)
    sys.path[:] = [p for p in sys.path if p == target or not os.path.isdir(
        os.path.join(p or '.', 'autonl_mmseg'))]
    sys.path.insert(0, target)
    import torch
    import autonl_mmseg
    from autonl_mmseg.models import AutoNLNet
    from autonl_mmseg.models.utils.genotype import shipped_genotypes
    assert autonl_mmseg.__file__.startswith(target), autonl_mmseg.__file__
    net = AutoNLNet(genotype='autonl-s')
    out = net.eval()(torch.randn(1, 3, 32, 32))
    print(shipped_genotypes(), len(net.genotype['blocks']),
          tuple(out[0].shape))
''')


def test_installed_package_builds_shipped_genotype(tmp_path):
    # build from a copy, so that the checkout gets no build/ or egg-info
    src = tmp_path / 'src'
    shutil.copytree(
        ROOT, src,
        ignore=shutil.ignore_patterns('.git', 'work_dirs', 'data', 'build',
                                      '*.egg-info', '__pycache__', 'tests',
                                      'docs'))
    target = tmp_path / 'site'
    pip = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps',
         '--no-build-isolation', '--no-index', '--quiet', '--target',
         str(target), str(src)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    genotypes = target / 'autonl_mmseg' / 'models' / 'genotypes'
    assert sorted(p.name for p in genotypes.glob('*.json')) == [
        'autonl-l.json', 'autonl-s.json', 'mobilenet-v2-lightnl.json',
        'mobilenet-v2.json'
    ]
    run_dir = tmp_path / 'elsewhere'
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(
        [sys.executable, '-c', CHECK, str(target)], cwd=run_dir, env=env,
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == (
        "['autonl-l', 'autonl-s', 'mobilenet-v2', 'mobilenet-v2-lightnl'] "
        '18 (1, 1280, 1, 1)')

"""dist_train.sh on CPU (gloo) and the one-line errors of the tools."""
import textwrap

from conftest import run_tool, seg_data_options

SEG = 'configs/autonl/toy/deeplabv3_mobilenet-v2_toy-voc.py'


def test_dist_train_two_processes_on_cpu(toy_voc_root, tmp_path):
    work = tmp_path / 'work'
    opts = seg_data_options(toy_voc_root) + [
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'train_cfg.max_iters=3',
        'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=3',
        'default_hooks.logger.interval=1',
        # the full (non-toy) configs use SyncBN: make sure it is handled
        'norm_cfg.type=SyncBN', 'model.backbone.norm_cfg.type=SyncBN',
        'model.decode_head.norm_cfg.type=SyncBN']
    proc = run_tool(['bash', 'tools/dist_train.sh', SEG, '2', '--work-dir',
                     str(work), '--cfg-options', *opts],
                    env={'PORT': '29517', 'OMP_NUM_THREADS': '1'})
    log = proc.stdout + proc.stderr
    assert (work / 'iter_3.pth').exists(), log[-3000:]
    # the environment block goes to the log file only (quiet terminal)
    log_file = next(work.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log_file, log_file[:3000]
    assert 'GPU number: 2' in log_file  # MMEngine's name for the world size


def test_distributed_run_destroys_its_process_group_at_exit(tmp_path):
    """An undestroyed gloo group can abort the process at interpreter exit
    after training finished (SIGABRT, "terminate called without an active
    exception"): ``setup_distributed`` destroys it from an atexit handler."""
    script = tmp_path / 'run.py'
    script.write_text(textwrap.dedent('''
        import torch.distributed as dist
        from mmengine.config import Config
        from autonl_mmseg.engine.launch import setup_distributed
        destroy = dist.destroy_process_group
        def traced(*args, **kwargs):
            print('destroyed', flush=True)
            return destroy(*args, **kwargs)
        dist.destroy_process_group = traced
        cfg = Config(dict(model=dict(type='X'), env_cfg=dict()))
        setup_distributed(cfg, 'pytorch')
        setup_distributed(cfg, 'pytorch')  # registers the handler once
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        print('trained', flush=True)
    '''))
    proc = run_tool([str(script)], env={
        'RANK': '0', 'WORLD_SIZE': '1', 'LOCAL_RANK': '0',
        'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': '29531',
        'CUDA_VISIBLE_DEVICES': ''})
    assert proc.stdout.split() == ['trained', 'destroyed'], proc.stdout


def _one_line_error(proc, *needles):
    """Exactly one ``error:`` line, the last one, and no traceback (library
    warnings, e.g. setuptools' about pkg_resources, may come before it)."""
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    errors = [line for line in lines if line.startswith('error: ')]
    assert errors == lines[-1:] and 'Traceback' not in proc.stderr, \
        proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_missing_config():
    proc = run_tool(['tools/train.py', 'configs/nope.py'], check=False)
    _one_line_error(proc, 'config file not found', 'configs/nope.py')


def test_missing_data_root(tmp_path):
    missing = tmp_path / 'no_voc'
    proc = run_tool(['tools/train.py', SEG, '--work-dir', str(tmp_path),
                     '--cfg-options',
                     f'train_dataloader.dataset.data_root={missing}'],
                    check=False)
    _one_line_error(proc, str(missing), 'make_toy_voc.py')


def test_missing_checkpoint(toy_voc_root, tmp_path):
    proc = run_tool(['tools/test.py', SEG, str(tmp_path / 'none.pth'),
                     '--cfg-options', *seg_data_options(toy_voc_root)],
                    check=False)
    _one_line_error(proc, 'checkpoint not found', 'none.pth')


def test_demo_and_zoo_misuse(tmp_path):
    """Schedules too short for the warm-up and unknown genotypes: one line
    before any data is generated or anything trained."""
    proc = run_tool(['tools/demo.py', '--seg-iters', '1', '--work-dir',
                     str(tmp_path)], check=False)
    assert proc.returncode == 2 and '--seg-iters must be >= 2' in proc.stderr
    assert not (tmp_path / 'demo.log').exists()
    proc = run_tool(['tools/analysis_tools/toy_zoo.py', '--genotypes',
                     'resnet-50', '--work-dir', str(tmp_path)], check=False)
    _one_line_error(proc, 'resnet-50')

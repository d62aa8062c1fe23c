"""End to end through the normal tools: toy search (tools/train.py) ->
genotype file -> toy ImageNet retrain and toy DeepLabV3 from that file;
interrupted + resumed search == uninterrupted search; export_genotype."""
import json

import torch

from autonl_mmseg.engine import allow_mmengine_checkpoint_globals
from autonl_mmseg.models.utils.genotype import (load_genotype,
                                                stage_boundaries)

from .conftest import (INTERRUPT_EPOCH, SEARCH_CFG, SEARCH_EPOCHS,
                       load_script, run_tool, search_options)

ITERS_PER_EPOCH = 3


def read(path):
    with open(path) as f:
        return json.load(f)


def load_checkpoint(path):
    allow_mmengine_checkpoint_globals()
    return torch.load(path, map_location='cpu')


def test_search_writes_genotypes(search_work_dir):
    genotype = load_genotype(str(search_work_dir / 'genotype.json'))
    assert len(stage_boundaries(genotype['blocks'])) == 7
    meta = genotype['meta']
    assert meta['iter'] == SEARCH_EPOCHS * ITERS_PER_EPOCH
    assert meta['macs'] > 0 and meta['params'] > 0
    assert meta['search']['cost_weight'] == 5.0
    assert meta['search']['search_space']['stem_channels'] == 32
    assert meta['config'].endswith('autonl_search_toy-in1k.py')
    # one file per checkpoint (interval 1 epoch)
    for epoch in range(1, SEARCH_EPOCHS + 1):
        path = search_work_dir / f'genotype_iter_{epoch * ITERS_PER_EPOCH}.json'
        assert path.is_file(), path
    # the cost term took effect after the warm-up
    assert meta['macs'] < read(search_work_dir / 'genotype_iter_3.json')[
        'meta']['macs']


def test_gate_scalars_and_plots(search_work_dir, tmp_path):
    """The gates' scores, thresholds and margins and the LightNL distance
    EMAs reach the visualizer's scalars; plot_search.py draws them and the
    decoded architecture."""
    plot_search = load_script('tools/analysis_tools/plot_search.py')
    scalars = plot_search.find_gate_scalars(str(search_work_dir))
    series = plot_search.read_gate_series(scalars)
    margins = [k for k in series if k.endswith('/margin')]
    thresholds = [k for k in series if k.endswith('/threshold')]
    distances = [k for k in series if k.startswith('distance/')]
    # 22 blocks: 21 x (kernel, expansion, SE x 2, insert, ratio, stride)
    # + 15 skips + the fixed first block's SE... (every gate of the space)
    assert len(thresholds) == 162 and len(margins) >= 120
    assert len(distances) == 21 * 5
    steps = series[thresholds[0]][0]
    assert steps[0] == 10 and steps[-1] == SEARCH_EPOCHS * ITERS_PER_EPOCH
    # calibrated at the end of the warm-up (iteration 5): the thresholds
    # of iteration 10 are no longer the initial -50
    assert all(series[k][1][0] > -50 for k in thresholds
               if 'insert' in k or 'kernel' in k)
    written = plot_search.main([str(search_work_dir), '--out-dir',
                                str(tmp_path)])
    assert [p.rsplit('/', 1)[-1] for p in written] == [
        'gate_trajectories.png', 'architecture.png']
    for path in written:
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_resume_continues_exactly(tmp_path, toy_imagenet_root,
                                  search_work_dir):
    work_dir = tmp_path / 'search'
    run_tool(['tools/train.py', SEARCH_CFG, '--work-dir', work_dir,
              '--cfg-options',
              *search_options(toy_imagenet_root, INTERRUPT_EPOCH)])
    assert not (work_dir / f'epoch_{INTERRUPT_EPOCH + 1}.pth').exists()
    run_tool(['tools/train.py', SEARCH_CFG, '--work-dir', work_dir,
              '--resume', '--cfg-options',
              *search_options(toy_imagenet_root)])
    resumed = read(work_dir / 'genotype.json')
    full = read(search_work_dir / 'genotype.json')
    assert resumed['blocks'] == full['blocks']
    assert resumed['meta']['macs'] == full['meta']['macs']
    a = load_checkpoint(work_dir / f'epoch_{SEARCH_EPOCHS}.pth')
    b = load_checkpoint(search_work_dir / f'epoch_{SEARCH_EPOCHS}.pth')
    assert a['meta']['iter'] == b['meta']['iter'] == \
        SEARCH_EPOCHS * ITERS_PER_EPOCH
    assert a['state_dict'].keys() == b['state_dict'].keys()
    keys = [k for k in a['state_dict']
            if 'threshold' in k or 'distance_ema' in k]
    assert keys
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    # and the intermediate checkpoint held the interrupted state
    mid = load_checkpoint(work_dir / f'epoch_{INTERRUPT_EPOCH}.pth')
    assert mid['meta']['iter'] == INTERRUPT_EPOCH * ITERS_PER_EPOCH


def test_export_genotype(search_work_dir, tmp_path):
    out = tmp_path / 'exported.json'
    # in-process (the tool's main(argv)) to save an interpreter start
    load_script('tools/export_genotype.py').main([
        SEARCH_CFG,
        str(search_work_dir / f'epoch_{SEARCH_EPOCHS}.pth'),
        str(out), '--cfg-options', 'model.cost_weight=5.0'
    ])
    exported = load_genotype(str(out))
    assert exported['blocks'] == read(search_work_dir /
                                      'genotype.json')['blocks']
    assert exported['meta']['iter'] == SEARCH_EPOCHS * ITERS_PER_EPOCH
    # without the config: the genotype GenotypeMetaHook wrote into the
    # checkpoint's meta (decoded at that checkpoint), MACs included
    meta_out = tmp_path / 'from_meta.json'
    load_script('tools/export_genotype.py').main([
        str(search_work_dir / f'epoch_{SEARCH_EPOCHS}.pth'), str(meta_out)])
    from_meta = load_genotype(str(meta_out))
    assert from_meta['blocks'] == exported['blocks']
    assert from_meta['meta']['macs'] == exported['meta']['macs']


def test_retrain_classifier_from_genotype(search_work_dir, tmp_path,
                                          toy_imagenet_root):
    genotype = search_work_dir / 'genotype.json'
    options = [f'model.backbone.genotype={genotype}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={toy_imagenet_root}',
                    f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False',
                    f'{loader}.batch_size=8']
    run_tool(['tools/train.py', 'configs/autonl/toy/autonl-s_toy-in1k.py',
              '--work-dir', tmp_path / 'cls', '--cfg-options', *options,
              'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    assert (tmp_path / 'cls' / 'epoch_1.pth').is_file()


def test_deeplabv3_from_genotype(search_work_dir, tmp_path, toy_voc_root):
    genotype = search_work_dir / 'genotype.json'
    options = [f'model.backbone.genotype={genotype}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={toy_voc_root}',
                    f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    run_tool(['tools/train.py',
              'configs/autonl/toy/deeplabv3_autonl_toy-voc.py', '--work-dir',
              tmp_path / 'seg', '--cfg-options', *options,
              'train_dataloader.batch_size=2', 'train_cfg.max_iters=2',
              'train_cfg.val_interval=2',
              'default_hooks.checkpoint.interval=2'])
    assert (tmp_path / 'seg' / 'iter_2.pth').is_file()

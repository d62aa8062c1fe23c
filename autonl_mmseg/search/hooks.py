"""Hooks of the search: log the decoded architecture and write the genotype.
(An interrupted + resumed search continues exactly with the engine's
``EpochSeedHook``.)"""
import os.path as osp

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..models.utils.genotype import dump_genotype, stage_boundaries, to_plain


def _search_model(runner):
    model = runner.model.module if is_model_wrapper(runner.model) else \
        runner.model
    if not hasattr(model, 'export_genotype'):
        raise TypeError('the search hooks need an AutoNLSearchClassifier '
                        f'model, got {type(model).__name__}')
    return model


def genotype_summary(genotype):
    """One line per stage: ``e<expand>k<kernel>[se<r>][+nl<r>/<s>]`` per
    block
    (``+<type><args>`` for a non-local block other than LightNL)."""
    lines = []
    blocks = genotype['blocks']
    for index, ids in enumerate(stage_boundaries(blocks)):
        parts = []
        for i in ids:
            b = blocks[i]
            part = f"e{b['expand_ratio']}k{b['kernel_size']}"
            if b.get('se_ratio'):
                part += f"se{b['se_ratio']:g}"
            non_local = b['non_local']
            if non_local:
                name = 'nl' if non_local['type'] == 'LightNL' else \
                    non_local['type']
                part += f'+{name}' + '/'.join(
                    f'{v:g}' if isinstance(v, (int, float)) else str(v)
                    for k, v in non_local.items() if k != 'type')
            parts.append(part)
        lines.append(f"  stage {index + 1} ({blocks[ids[0]]['out_channels']}"
                     f" ch, {len(ids)} blocks): " + ' '.join(parts))
    return '\n'.join(lines)


def gate_scalars(supernet):
    """The diagnostics of ``supernet.gate_states()`` as flat scalar names:
    ``gate/<gate>/score``, ``.../threshold``, ``.../margin`` (log units)
    and ``distance/<LightNL>.<field>_<candidate>`` (EMA)."""
    gates, distances = supernet.gate_states()
    scalars = {}
    for name, state in gates.items():
        for key, value in state.items():
            if value is not None:
                scalars[f'gate/{name}/{key}'] = value
    for name, value in distances.items():
        if value != float('inf'):
            scalars[f'distance/{name}'] = value
    return scalars


@HOOKS.register_module()
class SearchArchLoggerHook(Hook):
    """Log the decoded architecture and its MACs every ``interval``
    training iterations (and at the last one), and every gate's score,
    threshold and margin and every LightNL distance EMA to the runner's
    visualizer (``add_scalars``: ``vis_data/scalars.json`` with MMEngine's
    ``LocalVisBackend``, TensorBoard with its backend) every
    ``scalar_interval`` iterations. ``tools/analysis_tools/plot_search.py``
    draws them.

    Args:
        interval (int): Logging interval in iterations. Default: 50.
        scalar_interval (int): Gate-scalar interval in iterations; 0: off.
            Default: 10.
    """

    priority = 'LOW'

    def __init__(self, interval=50, scalar_interval=10):
        self.interval = interval
        self.scalar_interval = scalar_interval

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if self.scalar_interval and (
                self.every_n_train_iters(runner, self.scalar_interval)
                or self.is_last_train_iter(runner)):
            model = _search_model(runner)
            scalars = gate_scalars(model.backbone)
            with torch.no_grad():
                scalars['search/macs_decoded'] = \
                    model.expected_macs().item()
            runner.visualizer.add_scalars(scalars, step=runner.iter + 1)
        if not (self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            return
        model = _search_model(runner)
        genotype = model.export_genotype()
        meta = genotype['meta']
        runner.logger.info(
            f'[search] iter {runner.iter + 1}: {meta["num_blocks"]} blocks, '
            f'{meta["num_light_nl"]} LightNL, {meta["macs"] / 1e6:.1f}M MACs '
            f'at {meta["macs_input_size"]} ({meta["params"] / 1e6:.2f}M '
            f'params)\n' + genotype_summary(genotype))


@HOOKS.register_module()
class GenotypeDumpHook(Hook):
    """Write the decoded genotype into ``work_dir``: ``genotype_iter_N.json``
    at every checkpoint (N = the checkpoint's iteration) and
    ``genotype.json`` (the latest) at every checkpoint and at the end of
    training. The file has the format of the shipped genotypes (it is
    written by ``dump_genotype``) with MACs, params, the iteration and the
    search settings in ``meta``.

    Args:
        name (str): ``name`` field of the genotype. Default: 'autonl-search'.
    """

    priority = 'LOW'

    def __init__(self, name='autonl-search'):
        self.name = name

    def _dump(self, runner, iteration, epoch):
        if not is_main_process():
            return
        model = _search_model(runner)
        genotype = model.export_genotype(
            self.name,
            meta=dict(
                config=runner.cfg.filename,
                experiment_name=runner.experiment_name,
                iter=int(iteration),
                epoch=int(epoch),
                model_cfg=to_plain(runner.cfg.get('model', {}))))
        dump_genotype(genotype,
                      osp.join(runner.work_dir,
                               f'genotype_iter_{iteration}.json'))
        dump_genotype(genotype, osp.join(runner.work_dir, 'genotype.json'))
        runner.logger.info(
            f'[search] genotype of iter {iteration} written to '
            f'{osp.join(runner.work_dir, "genotype.json")}')

    def before_save_checkpoint(self, runner, checkpoint):
        meta = checkpoint.get('meta', {})
        self._dump(runner, meta.get('iter', runner.iter),
                   meta.get('epoch', runner.epoch))

    def after_train(self, runner):
        self._dump(runner, runner.iter, runner.epoch)

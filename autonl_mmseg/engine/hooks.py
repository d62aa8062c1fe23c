"""Generic hooks of ours: reproducible epochs, the genotype in every
checkpoint, every test image drawn (the search's own hooks are in
``autonl_mmseg.search.hooks``; the console's in ``console.py``)."""
import os.path as osp
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed Python, NumPy and PyTorch at the start of every training
    epoch from ``(runner.seed, epoch)``.

    MMEngine does not store random states in checkpoints, so after
    ``--resume`` dropout masks and data augmentation would differ from an
    uninterrupted run. With this hook every epoch's randomness depends only
    on the seed and the epoch, so an epoch-based search resumed from an
    epoch checkpoint continues exactly (data loading in the main process or
    in non-persistent workers; persistent workers keep their own state).
    """

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner):
        seed = runner.seed if runner.seed is not None else 0
        seed = (seed + 1000003 * (runner.epoch + 1)) % 2**31
        if getattr(runner, '_randomness_cfg', {}).get('diff_rank_seed'):
            seed = (seed + get_rank()) % 2**31
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)


def model_genotype(model):
    """The genotype of a model with an ``AutoNLNet`` backbone (the one it
    is built from) or of a search model (the architecture decoded now, with
    MACs and params in ``meta``); None for any other model."""
    from ..models.backbones import AutoNLNet
    model = model.module if is_model_wrapper(model) else model
    if hasattr(model, 'export_genotype'):
        return model.export_genotype()
    return next((m.genotype for m in model.modules()
                 if isinstance(m, AutoNLNet)), None)


@HOOKS.register_module()
class GenotypeMetaHook(Hook):
    """Write the network's genotype (the full JSON of a genotype file) into
    every checkpoint's ``meta['genotype']``, so that a checkpoint says what
    it is: ``tools/export_genotype.py CHECKPOINT OUT`` writes it back out.
    A search checkpoint gets the architecture decoded at that iteration.

    Our configs list it in ``default_hooks`` (so MMSeg's and MMPretrain's
    own ``tools/train.py`` write it too); our ``tools/train.py`` adds it to
    any config that lacks it. Models without an ``AutoNLNet`` backbone are
    left alone.
    """

    priority = 'LOW'

    def before_save_checkpoint(self, runner, checkpoint):
        genotype = model_genotype(runner.model)
        if genotype is not None:
            checkpoint.setdefault('meta', {})['genotype'] = genotype


@HOOKS.register_module()
class SegShowDirHook(Hook):
    """Draw every test prediction of a segmentor into
    ``out_dir/<image name>.png`` (``tools/test.py --show-dir``).

    MMSeg's ``SegVisualizationHook`` draws one batch in ``interval`` into
    its visualizer's backends (``DIR/vis_data/vis_image/``); this is the
    behaviour of MMPretrain's ``VisualizationHook(out_dir=...)`` for
    segmentation: every image, one flat folder, drawn by the config's
    ``SegLocalVisualizer`` (image and predicted mask blended).

    Args:
        out_dir (str, optional): Folder of the PNGs; None only shows them.
        show (bool): Also show each drawing in a window. Default: False.
        wait_time (float): Seconds each window stays. Default: 0.
        backend_args (dict, optional): File backend for reading the images.
    """

    def __init__(self, out_dir=None, show=False, wait_time=0.,
                 backend_args=None):
        self.out_dir = out_dir
        self.show = show
        self.wait_time = wait_time
        self.backend_args = backend_args

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None):
        import mmcv
        from mmengine import fileio
        from mmengine.visualization import Visualizer
        visualizer = Visualizer.get_current_instance()
        for output in outputs:
            img = mmcv.imfrombytes(
                fileio.get(output.img_path, backend_args=self.backend_args),
                channel_order='rgb')
            name = osp.splitext(osp.basename(output.img_path))[0]
            visualizer.add_datasample(
                name, img, data_sample=output, show=self.show,
                wait_time=self.wait_time,
                out_file=osp.join(self.out_dir, f'{name}.png')
                if self.out_dir else None)


def to_channels_last(tensor):
    """A 4-D tensor in channels-last memory format; anything else as is."""
    if isinstance(tensor, torch.Tensor) and tensor.dim() == 4:
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Train in channels-last (NHWC) memory format: the model's 4-D
    parameters and buffers, and the image batches that its data
    preprocessor makes.

    cuDNN runs depthwise convs and bf16/fp16 tensor-core convs fastest in
    NHWC; in NCHW it adds layout transposes around each of them (on an H100
    bf16 autocast alone made a MobileNetV2 step slower, with channels-last
    2.6x faster; issue 10). LightNL keeps the layout
    (``non_local_aggregate`` returns y in its input's memory format).
    ``tools/train.py --amp`` adds this hook on GPUs unless the config sets
    ``channels_last = False``.

    Values are unchanged; only strides differ. Checkpoints hold the
    channels-last tensors, and ``load_state_dict`` copies them into a model
    of either layout. It runs first in ``before_run``: before the weights
    are initialised or loaded, and before other hooks copy the model (EMA).
    Under DDP the model is converted after MMEngine has wrapped it (in
    ``Runner.__init__``): the parameters stay the same objects, so DDP
    reduces their channels-last gradients as any others (not timed on a
    GPU here, issue 10).
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.to(memory_format=torch.channels_last)
        model.data_preprocessor.register_forward_hook(
            self._inputs_to_channels_last)

    @staticmethod
    def _inputs_to_channels_last(module, args, data):
        if isinstance(data, dict) and 'inputs' in data:
            data['inputs'] = to_channels_last(data['inputs'])
        return data

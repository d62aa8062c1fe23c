# Copyright (c) autonl_mmseg contributors.
"""Convert a checkpoint of one of our networks to the deploy form: every
eval-mode BN folded into the conv before it (``AutoNLNet.switch_to_deploy``,
LightNL's depthwise conv included), as MMPretrain's
``reparameterize_model.py`` does for its reparameterisable backbones.

    python tools/model_converters/switch_to_deploy.py CONFIG CHECKPOINT OUT

Load the result with the same config and
``--cfg-options model.backbone.deploy=True`` (e.g. tools/test.py,
tools/deployment/pytorch2onnx.py). Outputs in eval mode are unchanged; the
deploy form cannot be trained further (its BN statistics are gone).
"""
import argparse
import io
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..',
                            'analysis_tools'))

from analysis_utils import build_model_from_config  # noqa: E402

from autonl_mmseg.engine.cli import fail, run_cli  # noqa: E402


def convert(model):
    """Switch ``model``'s backbone to the deploy form, in place."""
    backbone = getattr(model, 'backbone', model)
    if not hasattr(backbone, 'switch_to_deploy'):
        fail(f'{type(backbone).__name__} has no deploy form (switch_to_'
             'deploy); only AutoNLNet backbones are converted')
    if getattr(backbone, 'deploy', False):
        fail('the checkpoint is already in the deploy form')
    model.eval()
    backbone.switch_to_deploy()
    return model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fold the BN layers of a checkpoint into its convs '
        '(deploy form)')
    parser.add_argument('config', help='config the checkpoint was trained '
                        'with')
    parser.add_argument('checkpoint', help='checkpoint to convert')
    parser.add_argument('out', help='deploy-form checkpoint to write')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.runner import weights_to_cpu

    from autonl_mmseg.engine.checkpoint import atomic_write, read_checkpoint
    meta = dict(read_checkpoint(args.checkpoint).get('meta') or {})
    if meta.get('deploy'):
        fail(f'{args.checkpoint} is already in the deploy form')
    model = convert(build_model_from_config(args.config,
                                            checkpoint=args.checkpoint))
    meta['deploy'] = True
    checkpoint = dict(meta=meta,
                      state_dict=weights_to_cpu(model.state_dict()))
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write(args.out, buffer.getvalue())
    print(f'{args.out}: deploy form of {args.checkpoint}; load it with '
          '--cfg-options model.backbone.deploy=True')


if __name__ == '__main__':
    run_cli(main)

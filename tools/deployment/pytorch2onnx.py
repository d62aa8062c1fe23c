# Copyright (c) autonl_mmseg contributors.
"""Export one of our classifiers or segmentors to ONNX and check it against
onnxruntime.

    python tools/deployment/pytorch2onnx.py CONFIG [CHECKPOINT] --out FILE
        [--shape H W] [--batch N] [--opset 17] [--no-deploy] [--no-verify]
        [--cfg-options ...]

What is exported is the model in MMEngine's tensor mode: the input is the
normalised image batch (N, 3, H, W) (the config's data preprocessor, mean/std
and BGR->RGB, is not part of the graph), the output the classifier's logits
(N, classes) or the segmentor's decode-head logits (N, classes, H/8, W/8 for
DeepLabV3 at output stride 8; upsample and argmax them).

The graph is for one input shape: LightNL takes its matmul order and its
1 / (H W) from the shape (``non_local_aggregate``). The backbone is exported
in its deploy form (BN folded into the convs, ``switch_to_deploy``) unless
``--no-deploy``; a checkpoint written by
tools/model_converters/switch_to_deploy.py needs
``--cfg-options model.backbone.deploy=True``.

The check: onnxruntime (CPU) and PyTorch run the same random input; the
relative error ||ort - torch|| / ||torch|| must be <= ``--tolerance``
(1e-4), else the tool exits with an error. Without a checkpoint the
network's default initialisation is exported (LightNL blocks start as the
identity; to test the whole graph use trained weights).
"""
import argparse
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..',
                            'analysis_tools'))

from analysis_utils import TensorMode, build_model_from_config  # noqa: E402

from autonl_mmseg.engine.cli import fail, run_cli  # noqa: E402

TOLERANCE = 1e-4


def export(model, out, shape, batch=1, opset=17):
    """Write ``model`` (tensor in, tensor out) as ONNX; return the input."""
    import torch
    x = torch.randn(batch, 3, *shape,
                    generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        # the TorchScript-based exporter is deprecated in torch >= 2.9; the
        # torch.export-based one needs onnxscript, which we do not ship
        warnings.simplefilter('ignore')
        torch.onnx.export(model, (x, ), out, opset_version=opset,
                          input_names=['input'], output_names=['output'],
                          dynamo=False)
    return x


def onnxruntime_session(path, threads=None):
    """A CPU onnxruntime session (``threads``: intra-op threads)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options,
                                providers=['CPUExecutionProvider'])


def verify(model, path, x):
    """Relative error of onnxruntime's output against PyTorch's."""
    import numpy as np
    import torch
    with torch.no_grad():
        ref = model(x)
    ref = ref[0] if isinstance(ref, (tuple, list)) else ref
    got = onnxruntime_session(path).run(None, {'input': x.numpy()})[0]
    ref = ref.numpy()
    if got.shape != ref.shape:
        fail(f'onnxruntime output shape {got.shape} != PyTorch {ref.shape}')
    return float(np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-12))


def build_exportable(config, checkpoint=None, deploy=True):
    """The config's (path or Config) model in tensor mode, eval, deploy
    form if asked."""
    model = build_model_from_config(config, checkpoint=checkpoint)
    model.eval()
    backbone = getattr(model, 'backbone', None)
    if deploy and hasattr(backbone, 'switch_to_deploy'):
        backbone.switch_to_deploy()
    return TensorMode(model).eval()


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Export a classifier or segmentor to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint (default: initial weights)')
    parser.add_argument('--out', required=True, help='ONNX file to write')
    parser.add_argument('--shape', type=int, nargs=2, default=None,
                        metavar=('H', 'W'), help='input height and width '
                        '(default: 224 224 for classifiers, 512 512 for '
                        'segmentors)')
    parser.add_argument('--batch', type=int, default=1, help='batch size')
    parser.add_argument('--opset', type=int, default=17,
                        help='ONNX opset (>= 17)')
    parser.add_argument('--no-deploy', action='store_true',
                        help='keep the BN layers (no switch_to_deploy)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime check')
    parser.add_argument('--tolerance', type=float, default=TOLERANCE,
                        help='largest relative error accepted')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (xxx=yyy)')
    args = parser.parse_args(argv)
    if args.opset < 17:
        parser.error('--opset must be >= 17')
    if args.batch < 1 or (args.shape and min(args.shape) < 1):
        parser.error('--batch and --shape must be positive')
    return args


def main(argv=None):
    args = parse_args(argv)
    from autonl_mmseg.engine.launch import config_scope, load_config
    cfg = load_config(args.config, args.cfg_options)
    shape = args.shape or ((512, 512) if config_scope(cfg) == 'mmseg' else
                           (224, 224))
    model = build_exportable(cfg, args.checkpoint, deploy=not args.no_deploy)
    x = export(model, args.out, shape, args.batch, args.opset)
    print(f'{args.out}: input {tuple(x.shape)}, opset {args.opset}'
          f'{"" if args.no_deploy else ", deploy form"}')
    if not args.no_verify:
        error = verify(model, args.out, x)
        print(f'onnxruntime vs PyTorch: relative error {error:.2e}')
        if not error <= args.tolerance:
            fail(f'onnxruntime output differs from PyTorch (relative error '
                 f'{error:.2e} > {args.tolerance:g})')


if __name__ == '__main__':
    run_cli(main)

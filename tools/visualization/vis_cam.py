# Copyright (c) autonl_mmseg contributors.
"""Class activation maps (CAMs) of our classifiers, one model or two side
by side (the paper's Figure 6: image | CAM of model A | CAM of model B).

    python tools/visualization/vis_cam.py IMG CONFIG CHECKPOINT
        [--compare CONFIG2 CHECKPOINT2] [--out-dir DIR] [--labels A B]
        [--method GradCAM] [--target-layers backbone.conv2]
        [--target-category N_OR_NAME] [--max-images N] [--device cpu]

IMG is an image or a folder of images. Every image gets one PNG in
``--out-dir`` (``<image name>.png``): the image as the model sees it (the
config's test pipeline), then the CAM of each model over it, titled with
the model's label and its predicted class. The CAMs are computed by the
maintained ``grad-cam`` package (``pytorch_grad_cam``, as MMPretrain's
``vis_cam.py``) for the class each model predicts, or for
``--target-category``; the layer is the backbone's last one (``conv2``,
the 1280-channel head conv of our networks) unless ``--target-layers``
names others. Models load through MMPretrain's ``get_model``, so a
checkpoint of another genotype than the config's fails with one line.

The paper's Figure 6 (MobileNetV2 vs MobileNetV2-LightNL)::

    python tools/visualization/vis_cam.py data/imagenet/val \\
        configs/autonl/mobilenet-v2_in1k.py work_dirs/mobilenet-v2_in1k/epoch_350.pth \\
        --compare configs/autonl/mobilenet-v2-lightnl_in1k.py \\
        work_dirs/mobilenet-v2-lightnl_in1k/epoch_350.pth \\
        --labels MobileNetV2 MobileNetV2-LightNL --max-images 20
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))

import autonl_mmseg  # noqa: F401,E402
from autonl_mmseg.engine.launch import (check_checkpoint, fail,  # noqa: E402
                                        load_config)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
METHODS = ('GradCAM', 'GradCAMPlusPlus', 'XGradCAM', 'HiResCAM', 'LayerCAM',
           'EigenCAM', 'EigenGradCAM', 'ScoreCAM', 'AblationCAM')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Class activation maps of classifiers, side by side')
    parser.add_argument('img', help='an image or a folder of images')
    parser.add_argument('config', help='config of model A')
    parser.add_argument('checkpoint', help='checkpoint of model A')
    parser.add_argument('--compare', nargs=2,
                        metavar=('CONFIG2', 'CHECKPOINT2'),
                        help='model B, drawn beside model A')
    parser.add_argument('--out-dir', default='work_dirs/cam',
                        help='folder of the PNGs (one per image)')
    parser.add_argument('--labels', nargs='+',
                        help='titles of the models (default: config names)')
    parser.add_argument('--method', default='GradCAM', choices=METHODS,
                        help='CAM method of pytorch_grad_cam')
    parser.add_argument('--target-layers', nargs='+',
                        help='module names (default: the backbone\'s last '
                        'layer, e.g. backbone.conv2)')
    parser.add_argument('--target-category',
                        help='class index or name to explain (default: '
                        'the class each model predicts)')
    parser.add_argument('--max-images', type=int, default=None,
                        help='at most this many images of a folder')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    args = parser.parse_args(argv)
    n_models = 2 if args.compare else 1
    if args.labels and len(args.labels) != n_models:
        parser.error(f'give {n_models} --labels, one per model')
    return args


def list_images(path, max_images=None):
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        fail(f'image or folder not found: {path}')
    images = []
    for folder, _, files in sorted(os.walk(path)):
        images += [osp.join(folder, f) for f in sorted(files)
                   if f.lower().endswith(IMAGE_EXTENSIONS)]
    if not images:
        fail(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in {path}')
    return images[:max_images]


class CamModel:
    """A classifier, its test pipeline and a CAM of one of its layers."""

    def __init__(self, config, checkpoint, method, target_layers, device):
        import pytorch_grad_cam
        from analysis_utils import TensorMode
        from mmengine.dataset import Compose
        from mmengine.registry import init_default_scope
        from mmpretrain.apis import get_model

        from autonl_mmseg.models.utils import GenotypeMismatchError
        check_checkpoint(checkpoint)
        cfg = load_config(config)
        if cfg.get('default_scope') != 'mmpretrain':
            fail(f'{config} is not a classification (mmpretrain) config')
        init_default_scope('mmpretrain')
        try:
            self.model = get_model(cfg, pretrained=checkpoint, device=device)
        except GenotypeMismatchError as e:
            fail(f'{checkpoint}: {e}')
        self.model.eval()
        self.classes = self.model._dataset_meta.get('classes') or [
            str(i) for i in range(self.model.head.num_classes)]
        self.pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
        if not target_layers:
            last = getattr(self.model.backbone, 'layers', [None])[-1]
            if last is None:
                fail(f'{config}: give --target-layers (the backbone has no '
                     'layer list)')
            target_layers = [f'backbone.{last}']
        layers = []
        for name in target_layers:
            try:
                layers.append(self.model.get_submodule(name))
            except AttributeError:
                fail(f'{config}: no module {name!r} for --target-layers')
        self.cam = getattr(pytorch_grad_cam, method)(
            model=TensorMode(self.model), target_layers=layers)

    def explain(self, path, category=None):
        """(image as the model sees it: HxWx3 RGB uint8, CAM: HxW in
        [0, 1], explained class index, its softmax score)."""
        import torch
        from mmengine.dataset import pseudo_collate
        from pytorch_grad_cam.utils.model_targets import \
            ClassifierOutputTarget
        packed = self.pipeline(dict(img_path=path))
        image = packed['inputs'].permute(1, 2, 0).numpy()  # HWC uint8
        if self.model.data_preprocessor.to_rgb:  # the pipeline's BGR
            image = image[..., ::-1].copy()
        inputs = self.model.data_preprocessor(pseudo_collate([packed]),
                                              False)['inputs']
        with torch.no_grad():
            scores = self.model(inputs, mode='tensor').softmax(-1)[0]
        if category is None:
            category = int(scores.argmax())
        cam = self.cam(input_tensor=inputs,
                       targets=[ClassifierOutputTarget(category)])[0]
        return image, cam, category, float(scores[category])


def parse_category(value, classes):
    if value is None:
        return None
    if value in classes:
        return classes.index(value)
    if value.isdigit() and int(value) < len(classes):
        return int(value)
    raise ValueError(f'--target-category {value!r} is neither a class index '
                     f'below {len(classes)} nor one of {", ".join(classes)}')


def draw(path, out_file, image, panels):
    """``image | CAM | CAM ...`` with titles into ``out_file``."""
    import cv2
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    from pytorch_grad_cam.utils.image import show_cam_on_image
    height, width = image.shape[:2]
    base = np.float32(image) / 255
    fig, axes = plt.subplots(1, len(panels) + 1,
                             figsize=(2.6 * (len(panels) + 1), 2.9))
    axes[0].imshow(image)
    axes[0].set_title(osp.basename(path), fontsize=8)
    for ax, (title, cam) in zip(axes[1:], panels):
        cam = cv2.resize(cam, (width, height))  # models may see other sizes
        ax.imshow(show_cam_on_image(base, cam, use_rgb=True))
        ax.set_title(title, fontsize=8)
    for ax in axes:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    specs = [(args.config, args.checkpoint)]
    if args.compare:
        specs.append(tuple(args.compare))
    labels = args.labels or [osp.splitext(osp.basename(c))[0]
                             for c, _ in specs]
    images = list_images(args.img, args.max_images)
    models = [CamModel(config, checkpoint, args.method, args.target_layers,
                       args.device) for config, checkpoint in specs]
    try:
        categories = [parse_category(args.target_category, m.classes)
                      for m in models]
    except ValueError as e:
        fail(str(e))
    os.makedirs(args.out_dir, exist_ok=True)
    from autonl_mmseg.engine import progress_bar
    written = []
    with progress_bar() as bar:
        task = bar.add_task('CAMs', total=len(images))
        for path in images:
            panels, image = [], None
            for label, model, category in zip(labels, models, categories):
                shown, cam, index, score = model.explain(path, category)
                image = shown if image is None else image
                panels.append((f'{label}: {model.classes[index]} '
                               f'{score:.2f}', cam))
            out_file = osp.join(
                args.out_dir, osp.splitext(osp.basename(path))[0] + '.png')
            draw(path, out_file, image, panels)
            written.append(out_file)
            bar.advance(task)
    print(f'{len(written)} CAM figure(s) ({" | ".join(["image"] + labels)}) '
          f'written to {args.out_dir}')
    return written


if __name__ == '__main__':
    main()

"""Dataset utilities: the deterministic synthetic toy scenes.

Only numpy / OpenCV / Pillow are needed; nothing here imports torch.
"""
from .toy_scenes import (CLASS_APPEARANCE, DEFAULT_CLASS_IDS, VOC_CLASSES,
                         add_void_border, generate_toy_imagenet,
                         generate_toy_voc, make_rng, parse_class_ids,
                         render_object_crop, render_scene, voc_palette)

__all__ = [
    'CLASS_APPEARANCE', 'DEFAULT_CLASS_IDS', 'VOC_CLASSES', 'add_void_border',
    'generate_toy_imagenet', 'generate_toy_voc', 'make_rng',
    'parse_class_ids', 'render_object_crop', 'render_scene', 'voc_palette'
]

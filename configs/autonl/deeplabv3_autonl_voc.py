# HEADLINE: DeepLabV3 with the AutoNL-S backbone on PASCAL VOC 2012 + SBD aug.
# AutoNL-S rather than AutoNL-L: the paper's segmentation study (Table 2) is
# about mobile budgets, and AutoNL-S gives MobileNetV2-level cost (267M vs
# 301M MACs at 224) with the searched LightNL placement; AutoNL-L is
# deeplabv3_autonl-l_voc.py.
# ASPP at output stride 8, 512x512 crops, 21 classes, MMSeg's VOC-aug
# pipeline and 20k schedule (4 GPUs x 4 images).
#   python tools/train.py configs/autonl/deeplabv3_autonl_voc.py
#   bash tools/dist_train.sh configs/autonl/deeplabv3_autonl_voc.py 4
# ImageNet weights: train configs/autonl/autonl-s_in1k.py first, then pass
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_350.pth
# A searched genotype: --cfg-options model.backbone.genotype=PATH/genotype.json
_base_ = [
    '../_base_/models/deeplabv3_autonl-d8.py',
    'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py',
]
genotype = 'autonl-s'
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        genotype=genotype,
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')))
# Atomic checkpoints that hold the random states and the genotype: --resume
# (also with MMSeg's / MMPretrain's own tools/train.py) continues bit-exactly
# and falls back to the newest readable checkpoint; every checkpoint's meta
# names its genotype (autonl_mmseg/engine).
default_hooks = dict(
    checkpoint=dict(type='ResumableCheckpointHook'),
    genotype=dict(type='GenotypeMetaHook'))

# Toy counterpart of deeplabv3_autonl_voc.py for CPU demos and tests: the same
# DeepLabV3 + AutoNL-S model with plain BN, output stride 16 (MMSeg's d16
# setting: ASPP dilations 1/6/12/18), a slimmer ASPP (64 channels instead of
# 512) and the toy VOC data at 96x96 crops. Fine-tune from a toy ImageNet
# classifier as the paper does (tools/demo.py runs the whole pipeline):
#   python tools/dataset_converters/make_toy_voc.py
#   python tools/train.py configs/autonl/toy/deeplabv3_autonl_toy-voc.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=CLS_CHECKPOINT
_base_ = [
    '../../_base_/models/deeplabv3_autonl-d8.py',
    '../../_base_/datasets/toy_voc.py',
    'mmseg::_base_/default_runtime.py',
    '../../_base_/schedules/toy_seg.py',
]
genotype = 'autonl-s'
norm_cfg = dict(type='BN', requires_grad=True)
crop_size = (96, 96)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        genotype=genotype,
        norm_cfg=norm_cfg,
        output_stride=16,
        # checkpoint=None: the backbone's own initialisation
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    decode_head=dict(channels=64, dilations=(1, 6, 12, 18), norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=32, norm_cfg=norm_cfg))
randomness = dict(seed=0)
# the genotype in every checkpoint's meta, atomic checkpoints with the random
# states (exact --resume), also under MMSeg's own tools/train.py
default_hooks = dict(
    genotype=dict(type='GenotypeMetaHook'),
    checkpoint=dict(type='ResumableCheckpointHook'))

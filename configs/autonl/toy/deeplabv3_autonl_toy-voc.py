# Toy counterpart of deeplabv3_autonl_voc.py for CPU demos and tests: the same
# DeepLabV3 + AutoNL-S model (output stride 8) with plain BN, a slimmer ASPP
# (64 channels instead of 512) and the toy VOC data at 128x128 crops.
#   python tools/dataset_converters/make_toy_voc.py
#   python tools/train.py configs/autonl/toy/deeplabv3_autonl_toy-voc.py
_base_ = [
    '../../_base_/models/deeplabv3_autonl-d8.py',
    '../../_base_/datasets/toy_voc.py',
    'mmseg::_base_/default_runtime.py',
    '../../_base_/schedules/toy_seg.py',
]
genotype = 'autonl-s'
norm_cfg = dict(type='BN', requires_grad=True)
crop_size = (128, 128)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(genotype=genotype, norm_cfg=norm_cfg),
    decode_head=dict(channels=64, dilations=(1, 6, 12, 18), norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=32, norm_cfg=norm_cfg))
randomness = dict(seed=0)
# the genotype in every checkpoint's meta, atomic checkpoints with the random
# states (exact --resume), also under MMSeg's own tools/train.py
default_hooks = dict(
    genotype=dict(type='GenotypeMetaHook'),
    checkpoint=dict(type='ResumableCheckpointHook'))

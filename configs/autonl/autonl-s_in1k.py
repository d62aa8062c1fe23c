# AutoNL-S on ImageNet (Table 3: 4.4M params, 267M MACs, 76.5 top-1).
# 32 GPUs x 128: bash tools/dist_train.sh configs/autonl/autonl-s_in1k.py 8
#   (with NNODES=4 ...), or scale with --auto-scale-lr.
# A searched genotype: --cfg-options model.backbone.genotype=PATH/genotype.json
_base_ = [
    '../_base_/models/autonl_in1k.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_bicubic.py',
    '../_base_/schedules/autonl_in1k_rmsprop.py',
    'mmpretrain::_base_/default_runtime.py',
]
genotype = 'autonl-s'
model = dict(backbone=dict(genotype=genotype))
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
# Atomic checkpoints that hold the random states and the genotype: --resume
# (also with MMSeg's / MMPretrain's own tools/train.py) continues bit-exactly
# and falls back to the newest readable checkpoint; every checkpoint's meta
# names its genotype (autonl_mmseg/engine).
default_hooks = dict(
    checkpoint=dict(type='ResumableCheckpointHook'),
    genotype=dict(type='GenotypeMetaHook'))

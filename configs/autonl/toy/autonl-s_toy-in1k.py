# Toy counterpart of autonl-s_in1k.py: the same classifier (AutoNL-S, head
# conv 1280, dropout, label smoothing) on the toy ImageNet (56 px, 6 classes).
#   python tools/dataset_converters/make_toy_imagenet.py
#   python tools/train.py configs/autonl/toy/autonl-s_toy-in1k.py
_base_ = [
    '../../_base_/models/autonl_in1k.py',
    '../../_base_/datasets/toy_imagenet.py',
    '../../_base_/schedules/toy_cls.py',
    'mmpretrain::_base_/default_runtime.py',
]
genotype = 'autonl-s'
model = dict(
    # BN momentum 0.1 instead of the recipe's 0.01: the running statistics
    # must settle within a run of ~1,700 iterations
    backbone=dict(
        genotype=genotype, norm_cfg=dict(type='BN', eps=1e-3, momentum=0.1)),
    head=dict(num_classes={{_base_.num_classes}}, topk=(1, )))
default_hooks = dict(
    genotype=dict(type='GenotypeMetaHook'),  # genotype in checkpoint meta
    logger=dict(interval=50),
    # atomic checkpoints with the random states: exact --resume
    checkpoint=dict(
        type='ResumableCheckpointHook', interval=2, max_keep_ckpts=2))
randomness = dict(seed=0)

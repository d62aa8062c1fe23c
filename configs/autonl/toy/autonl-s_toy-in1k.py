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
    backbone=dict(genotype=genotype),
    head=dict(num_classes={{_base_.num_classes}}, topk=(1, )))
default_hooks = dict(
    genotype=dict(type='GenotypeMetaHook'),  # genotype in checkpoint meta
    logger=dict(interval=10),
    checkpoint=dict(interval=2, max_keep_ckpts=2))
randomness = dict(seed=0)

# Toy LightNL search (Section 3.2) on the toy ImageNet: the default search
# space (Single-Path NAS macro space + LightNL candidates) at 56 px, a few
# epochs on CPU. The decoded genotype is written to
# work_dirs/autonl_search_toy-in1k/genotype.json (see docs/search.md):
#   python tools/dataset_converters/make_toy_imagenet.py
#   python tools/train.py configs/autonl/toy/autonl_search_toy-in1k.py
#   python tools/train.py configs/autonl/toy/autonl-s_toy-in1k.py \
#       --cfg-options model.backbone.genotype=work_dirs/autonl_search_toy-in1k/genotype.json
_base_ = [
    '../../_base_/models/autonl_in1k.py',
    '../../_base_/datasets/toy_imagenet.py',
    '../../_base_/schedules/autonl_search_toy.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    type='AutoNLSearchClassifier',
    backbone=dict(
        _delete_=True,
        type='AutoNLSuperNet',
        search_space=None,  # the default space
        gate_cfg=dict(init_threshold=0., temperature=0.05),
        compact_gate_cfg=dict(init_threshold=0., temperature=0.1),
        ema_momentum=0.1,
        norm_cfg=dict(type='BN')),
    # plain CE during the search (Eqn 15), dropout 0.2
    head=dict(
        num_classes={{_base_.num_classes}},
        topk=(1, ),
        loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    # Eqn 15: CE + cost_weight * log(MACs / target_macs); MACs of the
    # decoded classifier at 224 px (the deployment size)
    cost_weight=0.1,
    target_macs=None,
    cost_form='log',
    cost_warmup=0.5,  # fraction of the iterations with the cost term off
    cost_input_size=224)

# Main-process data loading: fast enough for the toy images, and with the
# EpochSeedHook it makes a resumed search continue exactly.
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader

default_hooks = dict(
    genotype=dict(type='GenotypeMetaHook'),  # genotype in checkpoint meta
    logger=dict(interval=5),
    # atomic checkpoints with the random states: exact --resume
    checkpoint=dict(
        type='ResumableCheckpointHook', interval=2, max_keep_ckpts=2))
custom_hooks = [
    dict(type='SearchArchLoggerHook', interval=30),
    dict(type='GenotypeDumpHook'),
    dict(type='EpochSeedHook'),
]
randomness = dict(seed=0)

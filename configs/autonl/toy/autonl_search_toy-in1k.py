# Toy LightNL search (Section 3.2) on the toy ImageNet: the default search
# space (Single-Path NAS macro space + SE ratio + LightNL candidates) at
# 56 px, 4 epochs on CPU with the toy classification recipe (see
# configs/_base_/schedules/autonl_search_toy.py); the first half is the
# warm-up (cost off, path dropout), then the gates are calibrated and the
# cost term decides. For a MACs budget instead of a fixed lambda:
#   --cfg-options model.target_macs=2.0e8 The decoded genotype is written to
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
        # log-domain scores; thresholds calibrated at the end of the warm-up
        # 1 log unit from their scores; temperature 0.5 keeps a gradient
        # within ~2 units of the score (docs/search.md)
        gate_cfg=dict(temperature=0.5, init_margin=1.0),
        compact_gate_cfg=dict(temperature=0.5, init_margin=1.0),
        ema_momentum=0.1,
        # BN momentum 0.1 as the toy classifiers (statistics must settle
        # within a short run)
        norm_cfg=dict(type='BN', eps=1e-3, momentum=0.1)),
    # the toy recipe's head: dropout 0.2, label smoothing 0.1
    head=dict(num_classes={{_base_.num_classes}}, topk=(1, )),
    # Eqn 15: CE + cost_weight * log(MACs / target_macs); MACs of the
    # decoded classifier at 224 px and 1000 classes (the deployment size).
    # With target_macs set, the cost form defaults to |log(MACs / target)|.
    cost_weight=0.5,
    target_macs=None,
    cost_form=None,
    cost_warmup=0.5,  # fraction of the iterations with the cost term off
    warmup_keep_prob=0.7,  # path dropout: each gate off w.p. 0.3
    cost_input_size=224,
    cost_num_classes=1000)

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
    # decoded architecture in the log, every gate's score / threshold /
    # margin and every LightNL distance EMA to the visualizer's scalars
    dict(type='SearchArchLoggerHook', interval=30, scalar_interval=10),
    dict(type='GenotypeDumpHook'),
    dict(type='EpochSeedHook'),
]
randomness = dict(seed=0)

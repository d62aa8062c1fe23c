# LightNL search at paper scale (Section 3.2): the default search space
# (Single-Path NAS macro space, kernel {3, 5} x expansion {3, 6} x skip, a
# searchable LightNL after every searchable block) on ImageNet, ~8 epochs at
# batch 1024, cost term off for the first 60% of the iterations.
#   bash tools/dist_train.sh configs/autonl/autonl_search_in1k.py 8
# The genotype lands in work_dirs/autonl_search_in1k/genotype.json; retrain:
#   bash tools/dist_train.sh configs/autonl/autonl-s_in1k.py 8 \
#       --cfg-options model.backbone.genotype=work_dirs/autonl_search_in1k/genotype.json
_base_ = [
    '../_base_/models/autonl_in1k.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_bicubic.py',
    '../_base_/schedules/autonl_search_in1k.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    type='AutoNLSearchClassifier',
    backbone=dict(
        _delete_=True,
        type='AutoNLSuperNet',
        search_space=None,  # the default space
        # log-domain scores, thresholds calibrated at the end of the
        # warm-up 1 log unit from their scores (docs/search.md)
        gate_cfg=dict(temperature=0.5, init_margin=1.0),
        compact_gate_cfg=dict(temperature=0.5, init_margin=1.0),
        ema_momentum=0.1,
        norm_cfg=dict(type='BN', eps=1e-3, momentum=0.01)),
    # plain CE during the search (no label smoothing), dropout 0.2
    head=dict(loss=dict(_delete_=True, type='CrossEntropyLoss',
                        loss_weight=1.0)),
    # Eqn 15: CE + cost_weight * log(MACs); for a budget use e.g.
    # target_macs=300e6, cost_form='abs_log'
    cost_weight=0.02,
    target_macs=None,
    cost_form=None,  # 'log' (Eqn 15); 'abs_log' once a target is given
    cost_warmup=0.6,
    warmup_keep_prob=0.7,  # path dropout in the warm-up
    cost_input_size=224)
train_dataloader = dict(batch_size=128, persistent_workers=False)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
default_hooks = dict(
    genotype=dict(type='GenotypeMetaHook'),  # genotype in checkpoint meta
    logger=dict(interval=100),
    # atomic checkpoints with the random states: exact --resume
    checkpoint=dict(
        type='ResumableCheckpointHook', interval=1, max_keep_ckpts=3))
custom_hooks = [
    dict(type='SearchArchLoggerHook', interval=500),
    dict(type='GenotypeDumpHook'),
    dict(type='EpochSeedHook'),
]
# DDP: no parameter is unused (every candidate enters the forward pass)
find_unused_parameters = False

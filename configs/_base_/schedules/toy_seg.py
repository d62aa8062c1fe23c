# A short CPU schedule for fine-tuning on the toy VOC data (demo and tests):
# MMSeg's SGD + poly LR, iteration based, with a short linear warm-up and the
# randomly initialised heads at twice the backbone's learning rate.
# Measured on the toy set from the pretrained AutoNL-S (docs/results.md):
# lr 0.01 / 0.03 / 0.06 gave 19 / 19 / 26 mIoU after 500 iterations.
max_iters = 2000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys=dict(
            decode_head=dict(lr_mult=2.0),
            auxiliary_head=dict(lr_mult=2.0))),
    clip_grad=None)
warmup_iters = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=0.03, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='PolyLR', eta_min=0., power=0.9, begin=warmup_iters,
         end=max_iters, by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters // 2,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))

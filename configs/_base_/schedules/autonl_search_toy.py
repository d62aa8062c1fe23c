# A short CPU schedule for the toy LightNL search: RMSprop (the paper's
# alpha/momentum/eps), the architecture thresholds in their own parameter
# group (own lr, no weight decay), the cost term off for the first half.
optim_wrapper = dict(
    optimizer=dict(
        type='RMSprop', lr=0.004, alpha=0.9, momentum=0.9, eps=1e-3,
        weight_decay=1e-5),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        # every ThresholdGate parameter is named '<...>.threshold'
        custom_keys={'threshold': dict(lr_mult=0.25, decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=8, val_interval=8)
val_cfg = dict()
test_cfg = dict()

# A short CPU schedule for the toy ImageNet data: the paper's RMSprop recipe
# (alpha 0.9, momentum 0.9, eps 1e-3, warm-up then x0.97 steps) compressed to
# a few epochs.
optim_wrapper = dict(
    optimizer=dict(
        type='RMSprop', lr=0.004, alpha=0.9, momentum=0.9, eps=1e-3,
        weight_decay=1e-5),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    # warm-up over the first iterations (so that even 1-epoch runs work),
    # then x0.97 per epoch
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='StepLR', by_epoch=True, step_size=1, gamma=0.97, begin=0),
]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=2)
val_cfg = dict()
test_cfg = dict()
# EMA of the weights as in the paper's recipe; a short momentum for short runs
custom_hooks = [dict(type='EMAHook', momentum=0.01, priority='ABOVE_NORMAL')]

# The paper's ImageNet recipe (configs/_base_/schedules/autonl_in1k_rmsprop.py)
# compressed to the toy ImageNet on a CPU: TF-style RMSprop (decay 0.9,
# momentum 0.9, eps 1e-3; torch's RMSprop is not the same update, see
# autonl_mmseg/engine/optimizers.py), lr 0.016 per 256 images, a linear
# warm-up, an exponential staircase decay that ends at ~1% of the peak as the
# 350-epoch recipe does (0.97 every 2.4 epochs), weight decay 1e-5 on conv/FC
# weights only, EMA of the weights. Label smoothing and dropout are in the
# model.
batch_size = 32
max_epochs = 16
lr = 0.016 * batch_size / 256
# Squeeze-excitation gates have no normalisation after them: with the
# per-coordinate steps of RMSprop their logits move ~lr x fan-in per step and
# saturate within the first hundred iterations, which slowed AutoNL-S (SE in
# 13 of 18 blocks) to a third of MobileNetV2's learning speed on the toy set
# (docs/results.md). A 10x smaller step for the SE convs removes that. The
# keys match only SE parameters (the SE module is conv.1 or conv.2 of a block).
se_lr = dict(lr_mult=0.1)
optim_wrapper = dict(
    optimizer=dict(
        type='RMSpropTF', lr=lr, alpha=0.9, momentum=0.9, eps=1e-3,
        weight_decay=1e-5),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            f'.conv.{i}.conv{j}.': se_lr
            for i in (1, 2) for j in (1, 2)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    # 0.745 ** 15 = 0.012: the decay of 0.97 ** (350 / 2.4)
    dict(type='StepLR', by_epoch=True, step_size=1, gamma=0.745, begin=1),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=4)
val_cfg = dict()
test_cfg = dict()
# EMA of the weights as in the recipe, with a time constant (100 iterations)
# that fits a short run.
custom_hooks = [dict(type='EMAHook', momentum=0.01, priority='ABOVE_NORMAL')]

# The paper's ImageNet recipe (configs/_base_/schedules/autonl_in1k_rmsprop.py)
# compressed to the toy ImageNet on a CPU: TF-style RMSprop (decay 0.9,
# momentum 0.9, eps 1e-3; torch's RMSprop is not the same update, see
# autonl_mmseg/engine/optimizers.py), weight decay 1e-5 on conv/FC weights
# only; a short linear warm-up and a cosine decay instead of the 350-epoch
# staircase. Label smoothing and dropout are in the model.
#
# Measured on the toy set (docs/results.md, "Why AutoNL-S did not learn"):
# the recipe's lr of 0.016 per 256 images, scaled linearly to small batches,
# is too large for these short runs (MobileNetV2 itself diverged at 0.002 for
# batch 32); 3e-4 at batch 16 trains all four networks.
max_epochs = 9  # 9 x 188 iterations of batch 16 (3,000 training images)
lr = 3e-4
# Squeeze-excitation gates have no normalisation after them: with
# per-coordinate optimiser steps their logits move ~lr x fan-in per step and
# saturate within the first hundred iterations (7% of the gates < 0.05 and
# 7% > 0.95 at iteration 100), which slowed AutoNL-S (SE in 13 of 18 blocks)
# to a third of MobileNetV2's learning speed. A 10x smaller step for the SE
# convs removes that. The keys match only SE parameters (the SE module is
# conv.1 or conv.2 of a block).
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
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min=0., convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=3)
val_cfg = dict()
test_cfg = dict()

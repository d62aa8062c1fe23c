# The toy LightNL search's schedule: the measured toy classification recipe
# (configs/_base_/schedules/toy_cls.py: TF-style RMSprop lr 3e-4 at batch 16,
# alpha 0.9, momentum 0.9, eps 1e-3, weight decay 1e-5, 100-iteration linear
# warm-up, cosine decay, SE convs at lr x 0.1) for the supernet's weights,
# and the architecture thresholds in their own group (see docs/search.md,
# "Optimiser"):
# - eps 1 inside the root: RMSprop's normalisation is off for these small
#   gradients, so a threshold moves by its (momentum-averaged) gradient, i.e.
#   by the evidence the loss gives; zero-mean noise cancels instead of
#   moving every threshold by ~lr per step whatever the gradient;
# - lr x 1000 (0.3): the cost gradient of one gate is ~1e-3 per unit of
#   cost_weight; at that lr a consistent gradient crosses the calibrated
#   margin (1 log unit) in a few hundred iterations;
# - no weight decay.
_base_ = ['./toy_cls.py']
search_epochs = 6  # 6 x 188 iterations of batch 16, the first half warm-up
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            # every ThresholdGate parameter is named '<...>.threshold'
            'threshold': dict(lr_mult=1000., decay_mult=0.0, eps=1.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=search_epochs,
         eta_min=0., convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=search_epochs,
                 val_interval=search_epochs)

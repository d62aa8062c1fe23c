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
# - lr x 10000 (3.0): the cost gradient reaching a calibrated threshold is
#   2.8e-7 .. 1.3e-2 (median 1.7e-4) per unit of cost_weight; at this lr,
#   cost_weight 0.5 and the cosine-decayed search phase, a consistent
#   gradient of 1e-3 (a gate worth ~0.5% of the MACs) crosses the
#   calibrated margin (1 log unit) within the search phase;
# - no weight decay.
_base_ = ['./toy_cls.py']
# 4 x 188 iterations of batch 16, the first half warm-up (shortened from
# the classifiers' 9 epochs to fit a loaded 2-core CPU; search_results.md)
search_epochs = 4
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            # every ThresholdGate parameter is named '<...>.threshold'
            'threshold': dict(lr_mult=10000., decay_mult=0.0, eps=1.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=search_epochs,
         eta_min=0., convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=search_epochs,
                 val_interval=search_epochs)

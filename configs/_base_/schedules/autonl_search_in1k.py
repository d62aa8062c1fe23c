# The search schedule at paper scale (Single-Path NAS / AutoNL): about 8
# ImageNet epochs at batch 1024 (8 GPUs x 128), RMSprop (alpha 0.9,
# momentum 0.9, eps 1e-3), lr 0.016 per 256 images scaled linearly, 1-epoch
# linear warm-up then x0.97 every 2.4 epochs. The thresholds form their own
# parameter group (no weight decay; eps 1: SGD with momentum, a threshold
# moves by its accumulated gradient, docs/search.md). lr x20 (~1.3): over
# the ~4,000 search iterations a consistent cost gradient of 1e-3 per unit
# of lambda (a gate worth ~0.5% of the MACs) at lambda 0.02 crosses the
# calibrated margin (scaled from the toy setting; not measured at this
# scale).
batch_size_per_gpu = 128
num_gpus = 8
total_batch = batch_size_per_gpu * num_gpus
iters_per_epoch = 1281167 // total_batch
lr = 0.016 * total_batch / 256
optim_wrapper = dict(
    optimizer=dict(
        type='RMSprop', lr=lr, alpha=0.9, momentum=0.9, eps=1e-3,
        weight_decay=1e-5),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'threshold': dict(lr_mult=20.0, decay_mult=0.0, eps=1.0)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='StepLR', by_epoch=False, step_size=int(2.4 * iters_per_epoch),
         gamma=0.97, begin=iters_per_epoch),
]
train_cfg = dict(by_epoch=True, max_epochs=8, val_interval=8)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=total_batch)

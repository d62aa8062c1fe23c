# The AutoNL / MnasNet ImageNet recipe (32 GPUs x 128 images): RMSprop
# (alpha 0.9, momentum 0.9, eps 1e-3), lr 0.016 per 256 images scaled
# linearly (0.256 at 4096), 5-epoch linear warm-up, x0.97 every 2.4 epochs,
# 350 epochs, weight decay 1e-5 on conv/FC weights only, EMA 0.9999.
batch_size_per_gpu = 128
num_gpus = 32
total_batch = batch_size_per_gpu * num_gpus
iters_per_epoch = 1281167 // total_batch
lr = 0.016 * total_batch / 256
optim_wrapper = dict(
    optimizer=dict(
        type='RMSprop', lr=lr, alpha=0.9, momentum=0.9, eps=1e-3,
        weight_decay=1e-5),
    # no decay on BN parameters or biases (conv and FC weights only)
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.016 / 0.256, by_epoch=True, begin=0,
         end=5, convert_to_iter_based=True),
    # x0.97 every 2.4 epochs: a staircase in iterations (2.4 epochs is not
    # an integer number of epochs, so it is expressed in iterations)
    dict(type='StepLR', by_epoch=False, step_size=int(2.4 * iters_per_epoch),
         gamma=0.97, begin=5 * iters_per_epoch),
]
train_cfg = dict(by_epoch=True, max_epochs=350, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=total_batch)
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
]

# Toy ImageNet (tools/dataset_converters/make_toy_imagenet.py) in MMPretrain's
# imagenet_bs32.py format, scaled down to the 64 px toy images (224/256 ->
# 56/64). MMPretrain's unchanged ``ImageNet`` dataset reads meta/{split}.txt;
# ``classes`` must be given explicitly, otherwise the dataset reports the
# 1000 ImageNet-1k names. Keep ``class_names`` in sync with --classes of the
# generator (default VOC ids 1,3,7,8,12,15, labels in that order).
# Written out in full rather than inherited from imagenet_bs32.py: MMEngine
# merges a pipeline list into the inherited one item by item, so the base's
# RandomResizedCrop arguments would leak into the RandomCrop below.
dataset_type = 'ImageNet'
data_root = 'data/toy_imagenet'
class_names = ('aeroplane', 'bird', 'car', 'cat', 'dog', 'person')
num_classes = len(class_names)
input_size = 56
resize_size = 64

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# The toy images are 64 px with one large, roughly centred object: random
# 56 px crops and flips (an Inception-style crop of the small area range
# would cut the object off), centre crop for evaluation.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=input_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=resize_size, edge='short'),
    dict(type='CenterCrop', crop_size=input_size),
    dict(type='PackInputs'),
]

# Batch 16: on the toy set, more (smaller) steps learn faster per CPU second
# than batch 32 (docs/results.md). persistent_workers=False so that a resumed
# run re-seeds its workers exactly (EpochSeedHook, docs/reliability.md).
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        ann_file='meta/train.txt',
        classes=class_names,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        ann_file='meta/val.txt',
        classes=class_names,
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))

test_dataloader = val_dataloader
test_evaluator = val_evaluator

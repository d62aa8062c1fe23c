# Toy Pascal VOC 2012 (tools/dataset_converters/make_toy_voc.py) in the format
# of MMSeg's pascal_voc12.py, at the scale of the 96-144 px toy images.
# Labels are VOC ids (21 classes: the toy classes are a subset, the others
# never occur, so their IoU is NaN and mIoU averages over the present ones).
# Written out in full rather than inherited: MMEngine merges a pipeline list
# into the inherited one item by item.
dataset_type = 'PascalVOCDataset'
data_root = 'data/toy_voc/VOCdevkit/VOC2012'
crop_size = (96, 96)
# Resize keeps the aspect ratio and fits the long side into 144 px (the
# generator's largest side): the objects keep about the scale of the
# classification crops, which the pretrained backbone has learned.
img_scale = (144, 144)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # annotations are loaded after Resize: metrics use the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]

# persistent_workers=False: a resumed run re-seeds its workers exactly
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

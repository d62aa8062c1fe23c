# Toy Pascal VOC 2012 (tools/dataset_converters/make_toy_voc.py): the settings
# of MMSeg's pascal_voc12.py, scaled down to the 128-192 px toy images.
# Labels are VOC ids (21 classes: the toy classes are a subset, the others
# never occur, so their IoU is NaN and mIoU averages over the present ones).
_base_ = ['mmseg::_base_/datasets/pascal_voc12.py']

dataset_type = 'PascalVOCDataset'
data_root = 'data/toy_voc/VOCdevkit/VOC2012'
crop_size = (128, 128)
img_scale = (192, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.5, 2.0),
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
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
# (tta_pipeline of the base works unchanged: it only uses scale factors)

# The base dataloaders were built from the base's variables, so every field
# that depends on them is overridden here (dicts merge, lists are replaced).
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
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
    persistent_workers=True,
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

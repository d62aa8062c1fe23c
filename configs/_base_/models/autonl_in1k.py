# ImageNet classifier of the paper's Table 3: AutoNLNet (head conv 1280) ->
# global average pooling -> dropout 0.2 -> FC 1000, label smoothing 0.1.
custom_imports = dict(imports=['autonl_mmseg'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='AutoNLNet',
        genotype='autonl-s',
        # BN momentum 0.01 (PyTorch convention) = the paper's 0.99
        norm_cfg=dict(type='BN', eps=1e-3, momentum=0.01)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='DropoutLinearClsHead',
        dropout_rate=0.2,
        num_classes=1000,
        in_channels=1280,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5)))

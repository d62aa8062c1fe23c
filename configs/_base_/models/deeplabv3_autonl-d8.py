# DeepLabV3 (ASPP, output stride 8) with an AutoNLNet backbone: MMSeg's
# DeepLabV3 model base with the backbone swapped, as MMSeg's MobileNetV2
# DeepLabV3 configs do (stage outputs 24/32-40/96/320: aux head on the 96-ch
# stage, ASPP on the 320-ch one).
_base_ = ['mmseg::_base_/models/deeplabv3_r50-d8.py']
custom_imports = dict(imports=['autonl_mmseg'], allow_failed_imports=False)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='AutoNLNet',
        genotype='autonl-s',
        output_stride=8,
        out_indices=(1, 2, 4, 6),
        norm_cfg=norm_cfg),
    decode_head=dict(in_channels=320, norm_cfg=norm_cfg, num_classes=21),
    auxiliary_head=dict(in_channels=96, norm_cfg=norm_cfg, num_classes=21))

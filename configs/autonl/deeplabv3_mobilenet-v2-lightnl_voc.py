# DeepLabV3 with MobileNetV2-LightNL on VOC 2012 aug (Table 2: 72.9 mIoU).
_base_ = ['./deeplabv3_autonl_voc.py']
genotype = 'mobilenet-v2-lightnl'
model = dict(backbone=dict(genotype=genotype))

# DeepLabV3 with the MobileNetV2 backbone on VOC 2012 aug (Table 2 baseline, 70.6 mIoU).
_base_ = ['./deeplabv3_autonl_voc.py']
genotype = 'mobilenet-v2'
model = dict(backbone=dict(genotype=genotype))

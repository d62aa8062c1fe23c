# DeepLabV3 with the MobileNetV2 backbone on VOC 2012 aug (Table 2 baseline, 70.6 mIoU).
_base_ = ['./deeplabv3_autonl_voc.py']
genotype = 'configs/autonl/genotypes/mobilenet-v2.json'
model = dict(backbone=dict(genotype=genotype))

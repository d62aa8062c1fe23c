# DeepLabV3 with the AutoNL-L backbone on VOC 2012 aug.
_base_ = ['./deeplabv3_autonl_voc.py']
genotype = 'autonl-l'
model = dict(backbone=dict(genotype=genotype))

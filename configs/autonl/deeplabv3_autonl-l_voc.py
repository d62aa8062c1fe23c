# DeepLabV3 with the AutoNL-L backbone on VOC 2012 aug.
_base_ = ['./deeplabv3_autonl_voc.py']
genotype = 'configs/autonl/genotypes/autonl-l.json'
model = dict(backbone=dict(genotype=genotype))

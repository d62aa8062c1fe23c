# Toy counterpart of deeplabv3_mobilenet-v2_voc.py.
_base_ = ['./deeplabv3_autonl_toy-voc.py']
genotype = 'configs/autonl/genotypes/mobilenet-v2.json'
model = dict(backbone=dict(genotype=genotype))

# Toy counterpart of deeplabv3_mobilenet-v2_voc.py.
_base_ = ['./deeplabv3_autonl_toy-voc.py']
genotype = 'mobilenet-v2'
model = dict(backbone=dict(genotype=genotype))

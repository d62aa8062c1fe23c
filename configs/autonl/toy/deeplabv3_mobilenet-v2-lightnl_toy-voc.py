# Toy counterpart of deeplabv3_mobilenet-v2-lightnl_voc.py.
_base_ = ['./deeplabv3_autonl_toy-voc.py']
genotype = 'mobilenet-v2-lightnl'
model = dict(backbone=dict(genotype=genotype))

# Toy counterpart of deeplabv3_autonl-l_voc.py.
_base_ = ['./deeplabv3_autonl_toy-voc.py']
genotype = 'autonl-l'
model = dict(backbone=dict(genotype=genotype))

# Toy counterpart of deeplabv3_autonl-l_voc.py.
_base_ = ['./deeplabv3_autonl_toy-voc.py']
genotype = 'configs/autonl/genotypes/autonl-l.json'
model = dict(backbone=dict(genotype=genotype))

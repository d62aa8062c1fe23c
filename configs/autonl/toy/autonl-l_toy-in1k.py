# Toy counterpart of autonl-l_in1k.py.
_base_ = ['./autonl-s_toy-in1k.py']
genotype = 'configs/autonl/genotypes/autonl-l.json'
model = dict(backbone=dict(genotype=genotype))

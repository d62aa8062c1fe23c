# Toy counterpart of autonl-l_in1k.py.
_base_ = ['./autonl-s_toy-in1k.py']
genotype = 'autonl-l'
model = dict(backbone=dict(genotype=genotype))

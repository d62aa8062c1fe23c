# Toy counterpart of mobilenet-v2_in1k.py.
_base_ = ['./autonl-s_toy-in1k.py']
genotype = 'mobilenet-v2'
model = dict(backbone=dict(genotype=genotype))

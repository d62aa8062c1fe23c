# Toy counterpart of mobilenet-v2-lightnl_in1k.py.
_base_ = ['./autonl-s_toy-in1k.py']
genotype = 'configs/autonl/genotypes/mobilenet-v2-lightnl.json'
model = dict(backbone=dict(genotype=genotype))

# AutoNL-L on ImageNet (Table 3: 5.6M params, 353M MACs, 77.5 top-1 without AutoAugment).
_base_ = ['./autonl-s_in1k.py']
genotype = 'autonl-l'
model = dict(backbone=dict(genotype=genotype))

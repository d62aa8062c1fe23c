# MobileNetV2 1.0 baseline of the same recipe (Table 1/3: 301M MACs, 73.4 top-1).
_base_ = ['./autonl-s_in1k.py']
genotype = 'mobilenet-v2'
# MobileNetV2's own BN settings (eps 1e-5, momentum 0.1), like MMPretrain's.
model = dict(backbone=dict(genotype=genotype, norm_cfg=dict(type='BN')))

# MobileNetV2-LightNL (Section 4.1: LightNL after every block, +15M MACs, 75.0 top-1).
_base_ = ['./autonl-s_in1k.py']
genotype = 'mobilenet-v2-lightnl'
# MobileNetV2's own BN settings (eps 1e-5, momentum 0.1), like MMPretrain's.
model = dict(backbone=dict(genotype=genotype, norm_cfg=dict(type='BN')))

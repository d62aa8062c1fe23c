from .autonl_net import AutoNLNet
from .mbconv_net import MBConvNet

__all__ = ['AutoNLNet', 'MBConvNet']

from .autonl_net import AutoNLNet

__all__ = ['AutoNLNet']

"""TensorFlow-style RMSprop for the AutoNL / MnasNet / EfficientNet recipe.

The paper's recipe (RMSprop, decay 0.9, momentum 0.9, epsilon 1e-3) comes
from TensorFlow, whose RMSprop differs from ``torch.optim.RMSprop`` in two
ways that matter: the squared-gradient average starts at 1 (torch: 0) and
epsilon is added *inside* the square root (torch: outside). With torch's
RMSprop the first steps are ~3x lr in every coordinate whatever the
gradient (``g / sqrt(0.1 g^2)``), and eps 1e-3 outside the root is ~30x
weaker than TF's: on the toy ImageNet the loss rose above chance in the first
epoch. timm's ``RMSpropTF`` implements TF's update; it is registered here
as ``RMSpropTF`` and imported only when an optimizer of that type is built.
"""
from mmengine.registry import OPTIMIZERS


@OPTIMIZERS.register_module(name='RMSpropTF')
def build_rmsprop_tf(params, **kwargs):
    """``timm.optim.RMSpropTF(params, **kwargs)`` (lr, alpha, eps,
    weight_decay, momentum, centered, decoupled_decay, lr_in_momentum)."""
    from timm.optim.rmsprop_tf import RMSpropTF
    return RMSpropTF(params, **kwargs)

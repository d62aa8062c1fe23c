"""Linear classification head with dropout before the FC (AutoNL recipe)."""
from mmengine.registry import MODELS
from mmpretrain.models.heads import LinearClsHead
from torch import nn


@MODELS.register_module()
class DropoutLinearClsHead(LinearClsHead):
    """MMPretrain's ``LinearClsHead`` with dropout on the pooled features, as
    in the AutoNL / MnasNet training recipe (dropout 0.2 before the FC).

    Args:
        dropout_rate (float): Dropout probability. Default: 0.2.
        **kwargs: Arguments of ``LinearClsHead``.
    """

    def __init__(self, *args, dropout_rate=0.2, **kwargs):
        super().__init__(*args, **kwargs)
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else None

    def pre_logits(self, feats):
        x = super().pre_logits(feats)
        return self.dropout(x) if self.dropout is not None else x

from .light_nl import LightNL, light_nl_macs, matmul_macs, non_local_aggregate
from .light_nl_cpu import fused_light_nl, set_fused_light_nl
from .nonlocal_variants import (DotProductNonLocal, Eqn3NonLocal,
                                Eqn5NonLocal, Eqn7NonLocal, Eqn9NonLocal,
                                LeviNonLocal, WangNonLocal,
                                dot_product_nonlocal)

__all__ = [
    'LightNL', 'light_nl_macs', 'matmul_macs', 'non_local_aggregate',
    'fused_light_nl', 'set_fused_light_nl',
    'DotProductNonLocal', 'WangNonLocal', 'LeviNonLocal', 'Eqn3NonLocal',
    'Eqn5NonLocal', 'Eqn7NonLocal', 'Eqn9NonLocal', 'dot_product_nonlocal'
]

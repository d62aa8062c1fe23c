from .light_nl import LightNL, light_nl_macs, matmul_macs, non_local_aggregate
from .nonlocal_variants import (NonLocalVariant, dot_product_nonlocal,
                                nonlocal_variant_macs)

__all__ = [
    'LightNL', 'light_nl_macs', 'matmul_macs', 'non_local_aggregate',
    'NonLocalVariant', 'dot_product_nonlocal', 'nonlocal_variant_macs'
]

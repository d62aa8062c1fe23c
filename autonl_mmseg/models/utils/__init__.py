from .genotype import (GenotypeError, dump_genotype, load_genotype,
                       stage_boundaries, validate_genotype)
from .mbconv import MBConv

__all__ = [
    'GenotypeError', 'dump_genotype', 'load_genotype', 'stage_boundaries',
    'validate_genotype', 'MBConv'
]

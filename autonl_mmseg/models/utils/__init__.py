from .genotype import (GenotypeError, GenotypeMismatchError, dump_genotype,
                       load_genotype, stage_boundaries, validate_genotype)
from .mbconv import MBConv
from .widths import hidden_channels, se_channels, widen_genotype

__all__ = [
    'GenotypeError', 'GenotypeMismatchError', 'dump_genotype',
    'load_genotype', 'stage_boundaries', 'validate_genotype', 'MBConv',
    'hidden_channels', 'se_channels', 'widen_genotype'
]

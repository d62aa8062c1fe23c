"""Searching LightNL configurations (AutoNL, CVPR 2020, Section 3.2).

Top-down: ``AutoNLSuperNet`` (supernet.py) owns its blocks and their gates;
``ThresholdGate`` (gates.py) is the straight-through gate;
``AutoNLSearchClassifier`` (search_classifier.py) adds the cost term of
``SearchCostModel`` (cost_model.py); each searched choice is one small
module of dimensions.py; the hooks (hooks.py) log and write the decoded
genotype. See docs/search.md and docs/architecture.md.
"""
from .cost_model import SearchCostModel
from .dimensions import (CompactChoice, ExpandRatio, Insertion, KernelSize,
                         SearchDimension, SERatio, Skip)
from .gates import (ThresholdGate, first_under_threshold, nested_one_hot,
                    straight_through)
from .hooks import (GenotypeDumpHook, SearchArchLoggerHook, gate_scalars,
                    genotype_summary)
from .search_classifier import AutoNLSearchClassifier
from .search_space import (DEFAULT_SEARCH_SPACE, SearchSpaceError,
                           build_search_space)
from .searchable_light_nl import SearchableLightNL
from .searchable_mbconv import SearchableMBConv
from .supernet import AutoNLSuperNet

__all__ = [
    'SearchCostModel', 'ThresholdGate', 'first_under_threshold',
    'nested_one_hot', 'straight_through', 'SearchDimension', 'KernelSize',
    'ExpandRatio', 'SERatio', 'Skip', 'Insertion', 'CompactChoice',
    'GenotypeDumpHook', 'SearchArchLoggerHook', 'gate_scalars',
    'genotype_summary', 'AutoNLSearchClassifier', 'DEFAULT_SEARCH_SPACE',
    'SearchSpaceError', 'build_search_space', 'SearchableLightNL',
    'SearchableMBConv', 'AutoNLSuperNet'
]

"""AutoNL for OpenMMLab.

Importing this package registers every module of ours into MMEngine's root
registries, so the names resolve under ``default_scope='mmseg'`` and
``default_scope='mmpretrain'`` alike::

    custom_imports = dict(imports=['autonl_mmseg'], allow_failed_imports=False)
"""
import warnings

# Deprecation notices of the pinned OpenMMLab stack that no user can act on
# (mmengine 0.10.7 imports pkg_resources; MMSeg 1.2.2 warns about its own
# defaults). Set before the imports below, which trigger the first one.
for _message in (r'pkg_resources is deprecated',
                 r'``build_loss`` would be deprecated',
                 r'Default ``avg_non_ignore`` is False',
                 r'The draw is False'):
    warnings.filterwarnings('ignore', message=_message)

from . import engine  # noqa: F401,E402  (checkpoint allow-list, hooks)
from . import datasets  # noqa: F401,E402  (CheckSegMapSize transform)
from . import models  # noqa: F401,E402
from . import search  # noqa: F401,E402
from .version import __version__  # noqa: E402

__all__ = ['__version__']

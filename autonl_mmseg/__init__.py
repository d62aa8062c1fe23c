"""AutoNL for OpenMMLab.

Importing this package registers every module of ours into MMEngine's root
registries, so the names resolve under ``default_scope='mmseg'`` and
``default_scope='mmpretrain'`` alike::

    custom_imports = dict(imports=['autonl_mmseg'], allow_failed_imports=False)
"""
from . import engine  # noqa: F401  (checkpoint allow-list, hooks)
from . import datasets  # noqa: F401  (CheckSegMapSize transform)
from . import models  # noqa: F401
from . import search  # noqa: F401
from .version import __version__

__all__ = ['__version__']

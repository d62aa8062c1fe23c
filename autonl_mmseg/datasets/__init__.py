"""Data checks: the start-up and full dataset checks, and the mask-size
guard transform (``CheckSegMapSize``) that our tools insert into pipelines.
The toy data generator is a tool (tools/dataset_converters/)."""
from .checks import (CheckSegMapSize, DataError, check_dataset_quickly,
                     check_samples)

__all__ = ['CheckSegMapSize', 'DataError', 'check_dataset_quickly',
           'check_samples']

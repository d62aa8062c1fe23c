"""Import the toy-scene generator without importing the (torch-heavy)
package, so the converters run with numpy, OpenCV and Pillow alone."""
import importlib.util
import sys
from pathlib import Path


def load_toy_scenes():
    """Import the generator without importing the (torch-heavy) package."""
    src = Path(__file__).resolve().parents[2] / 'autonl_mmseg' / 'datasets' \
        / 'toy_scenes.py'
    name = '_autonl_mmseg_toy_scenes'
    if name in sys.modules:
        return sys.modules[name]
    if src.is_file():
        spec = importlib.util.spec_from_file_location(name, src)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    from autonl_mmseg.datasets import toy_scenes
    return toy_scenes

"""autonl_mmseg: AutoNL (CVPR 2020) for MMSegmentation and MMPretrain."""
from setuptools import find_packages, setup


def parse_requirements(path):
    """Read a requirements file, dropping comments and blank lines."""
    with open(path) as f:
        return [line.split('#')[0].strip() for line in f
                if line.split('#')[0].strip()]


setup(
    name='autonl_mmseg',
    version='0.1.0',
    description='Lightweight Non-Local networks and their architecture search '
    '(AutoNL, CVPR 2020) for MMSegmentation and MMPretrain',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    # the shipped genotypes, which AutoNLNet(genotype='autonl-s') reads, and
    # LightNL's fused CPU kernel, compiled on first use
    package_data={'autonl_mmseg.models': ['genotypes/*.json',
                                          'plugins/*.cpp']},
    python_requires='>=3.8',
    # torch / mmcv are installed by tools/setup_env.sh (mmcv must be compiled
    # against the installed torch, so pip cannot resolve it by itself).
    install_requires=[
        r for r in parse_requirements('requirements/runtime.txt')
        if not r.startswith(('torch', 'torchvision'))
    ],
    extras_require={'tests': parse_requirements('requirements/tests.txt')},
    zip_safe=False)

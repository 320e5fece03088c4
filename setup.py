import re

from setuptools import find_packages, setup

# One source for the version: `abbnn.__version__`, read without importing it.
with open("abbnn/__init__.py", encoding="utf-8") as f:
    VERSION = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)

# TensorFlow comes through an extra, as with larq and larq-zoo, so that an installed
# TensorFlow 2.15 is kept (pip would write tensorflow-cpu over it in the same folder).
# Larq needs Keras 2: TF 2.16+ ships Keras 3 as tf.keras.
TENSORFLOW = "2.15.1"
X86 = "platform_machine=='x86_64' or platform_machine=='AMD64'"
NOT_X86 = "platform_machine!='x86_64' and platform_machine!='AMD64'"

setup(
    name="larq-abbnn",
    version=VERSION,
    license="Apache-2.0",  # SPDX; setuptools deprecates the license classifier
    license_files=["LICENSE"],
    description=(
        "A&B BNN (CVPR 2024) for Larq: trainable with Keras, deployable as Larq Compute "
        "Engine TFLite binaries"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["abbnn", "abbnn.*", "larq_abbnn", "larq_abbnn.*"]),
    package_data={"abbnn": ["py.typed"], "larq_abbnn": ["py.typed"]},
    python_requires=">=3.10,<3.12",
    install_requires=[
        "keras>=2.15,<2.16",  # keras-tuner asks for any keras: never Keras 3
        "larq==0.14.0",
        "larq-compute-engine==0.16.0",
        # Newer tfds/tensorflow-metadata need protobuf 5, which TF 2.15 cannot use
        # (measured: tfds 4.9.10 + metadata 1.21 fail to import tfds.testing).
        "tensorflow-datasets==4.9.3",
        "tensorflow-metadata==1.14.0",
        "keras-tuner==1.4.8",
        "numpy<2",
        "h5py",
        "matplotlib",  # training-curve and slope-histogram plots
    ],
    extras_require={
        # CPU machines: the CPU build on x86-64 (no CUDA libraries to download), the
        # regular build where there is no -cpu wheel (ARM, macOS).
        "tensorflow": [
            f"tensorflow-cpu=={TENSORFLOW}; {X86}",
            f"tensorflow=={TENSORFLOW}; {NOT_X86}",
        ],
        # GPU machines (Linux): TensorFlow with its CUDA and cuDNN wheels.
        "tensorflow_gpu": [f"tensorflow[and-cuda]=={TENSORFLOW}"],
        # dill: tfds.testing.mock_data; ruff: lint and format; pdoc: the API reference
        "dev": ["pytest>=7", "hypothesis>=6", "dill", "ruff==0.17.6", "pdoc==16.0.0"],
        # zookeeper (larq-zoo's) fails with typeguard >= 3 (`Sequence[int]` fields)
        "bench": ["larq-zoo==2.4.0", "typeguard<3"],
    },
    entry_points={"console_scripts": ["abbnn=abbnn.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)

import os
import re

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

# One source for the version: `abbnn.__version__`, read without importing it.
with open("abbnn/__init__.py", encoding="utf-8") as f:
    VERSION = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)

# TensorFlow comes through an extra, as with larq and larq-zoo, so that an installed
# TensorFlow is kept (pip would write tensorflow-cpu over it in the same folder).
# Larq needs Keras 2. TF 2.15 ships it as tf.keras; 2.16+ ship Keras 3, and Keras 2 comes as
# the tf_keras package, which `import larq_abbnn` selects (TF_USE_LEGACY_KERAS=1).
# Supported: 2.15, and 2.19-2.21 (tf_keras 2.16-2.18 break on Python 3.12: `randint(1, 1e9)`
# in tf_keras/src/backend.py). The ranges let pip take the newest that resolves with the rest:
# 2.21 alone, 2.19 beside [bench] (larq-zoo caps protobuf < 3.21; TF 2.20+ needs >= 5.28).
# Keep in step with abbnn.stack.TENSORFLOW_VERSIONS (checked by tests/test_stack.py).
NEW_TF = ">=2.19,<2.22"
# tf_keras pins its TensorFlow minor; it depends on `tensorflow`, so the full wheel is the
# one to ask for (tensorflow-cpu beside it would install both into one folder). TF 2.21
# no longer brings TensorBoard, which the training runs' callback needs.
NEW_STACK = [f"tf_keras{NEW_TF}", f"tensorboard{NEW_TF}"]
OLD_TF = "2.15.1"
# TF 2.15 needs protobuf < 5: newer tfds/tensorflow-metadata need 5 (measured: tfds 4.9.10 +
# metadata 1.21 fail to import tfds.testing on it).
OLD_STACK = ["tensorflow-datasets==4.9.3", "tensorflow-metadata==1.14.0"]
# QONNX export (qonnx's executor runs on onnxruntime) and the FPGA flow (hls4ml's C++
# emulation needs g++ only). Pinned to the set that resolves beside TF 2.15 (protobuf 3.20,
# ml-dtypes 0.3) and works on every stack: newer onnx, onnxscript and onnx-ir pull protobuf
# >= 4 and ml-dtypes 0.5 (measured: `pip install qonnx`, or these extras unpinned, into a
# TF 2.15 venv took protobuf 6-7 and broke TensorFlow). qonnx 1.0.0 needs onnx <= 1.17 on
# Python 3.10.
ONNX = [
    "qonnx==1.0.0",
    "onnx==1.17.0",
    "onnxruntime==1.23.2",
    "onnxscript==0.5.0",
    "onnx-ir==0.1.8",
]
FPGA = [*ONNX, "hls4ml==1.3.0"]
X86 = "platform_machine=='x86_64' or platform_machine=='AMD64'"
NOT_X86 = "platform_machine!='x86_64' and platform_machine!='AMD64'"

# A start-up hook in the environment larq-abbnn is installed into: Python runs a `.pth` file's
# `import` line at every start, so what TensorFlow reads at its first import is set before
# anything imports it. Keras 2: `import larq as lq` first (Larq's own docs' order) then works
# on TF 2.16+ (measured without it: `AttributeError: module 'keras._tf_keras.keras.layers' has
# no attribute 'LocallyConnected1D'`). oneDNN: TensorFlow runs its convolutions on Eigen on
# x86 CPUs without AVX512_VNNI/BF16 or AMX, where training ran at 1.02x the authors' PyTorch
# code (an AMD EPYC), against 1.2x on oneDNN (abbnn/stack.py). It is abbnn.stack.select
# written out, without importing the package (a .pth line that fails prints at every start):
# where the tf_keras package is installed and the variable is unset, TF_USE_LEGACY_KERAS=1; on
# x86-64 Linux where it is unset, TF_ENABLE_ONEDNN_OPTS=1. Setting a variable (e.g. to 0)
# overrides it. pip uninstall removes it with the package.
HOOK_NAME = "larq_abbnn_tensorflow.pth"
HOOK = (
    "import os, sys, importlib.util; os.environ.get('TF_USE_LEGACY_KERAS') is not None or "
    "importlib.util.find_spec('tf_keras') is None or "
    "os.environ.__setitem__('TF_USE_LEGACY_KERAS', '1'); "
    "not sys.platform.startswith('linux') or os.uname().machine != 'x86_64' or "
    "os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')\n"
)


def _write_hook(folder):
    with open(os.path.join(folder, HOOK_NAME), "w", encoding="utf-8") as f:
        f.write(HOOK)


class BuildWithHook(build_py):
    """Wheels (`pip install .`): the hook at the top of the wheel, i.e. site-packages."""

    def run(self):
        super().run()
        if not self.editable_mode:
            _write_hook(self.build_lib)


class EditableWithHook(editable_wheel):
    """Editable installs (`pip install -e .`, the README's): setuptools builds the editable
    wheel from a folder it fills first with namespace-package hooks; the hook joins them
    there, so it lands in site-packages as in a wheel."""

    def _install_namespaces(self, installation_dir, pth_prefix):
        super()._install_namespaces(installation_dir, pth_prefix)
        _write_hook(installation_dir)


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
    # 3.13: larq-compute-engine 0.16.0 has no cp313 wheel and no sdist
    python_requires=">=3.10,<3.13",
    install_requires=[
        "larq==0.14.0",
        "larq-compute-engine==0.16.0",
        "tensorflow-datasets>=4.9.3,<4.10",
        # tfds's builders find their checksums through etils.epath, which imports
        # importlib_resources; etils 1.15 (beside tfds 4.9.10) no longer brings it
        # (measured: `abbnn train --dataset cifar10` failed with "No module named
        # 'importlib_resources'" before any download)
        "importlib_resources",
        "tensorflow-metadata>=1.14.0",
        "keras-tuner==1.4.8",
        "numpy<2",
        "h5py",
        "matplotlib<3.11",  # training-curve and slope-histogram plots; 3.11 needs numpy 2
    ],
    extras_require={
        # CPU machines: the CPU build on x86-64 (no CUDA libraries to download), the
        # regular build where there is no -cpu wheel (ARM, macOS).
        "tensorflow": [f"tensorflow{NEW_TF}", *NEW_STACK],
        # GPU machines (Linux): TensorFlow with its CUDA and cuDNN wheels.
        "tensorflow_gpu": [f"tensorflow[and-cuda]{NEW_TF}", *NEW_STACK],
        # TensorFlow 2.15 with its own Keras 2 (Python 3.10-3.11), as an explicit choice:
        # the CPU build on x86-64, the regular build where there is no -cpu wheel.
        "tensorflow215": [
            f"tensorflow-cpu=={OLD_TF}; {X86}",
            f"tensorflow=={OLD_TF}; {NOT_X86}",
            *OLD_STACK,
        ],
        "tensorflow215_gpu": [f"tensorflow[and-cuda]=={OLD_TF}", *OLD_STACK],
        # dill: tfds.testing.mock_data; ruff: lint and format; pdoc: the API reference;
        # mkdocs: the guides' site (docs/, mkdocs.yml)
        "dev": [
            "pytest>=7",
            "hypothesis>=6",
            "dill",
            "ruff==0.17.6",
            "pdoc==16.0.0",
            "mkdocs==1.6.1",
        ],  # fmt: skip
        # zookeeper (larq-zoo's) fails with typeguard >= 3 (`Sequence[int]` fields)
        "bench": ["larq-zoo==2.4.0", "typeguard<3"],
        "onnx": ONNX,
        "fpga": FPGA,
    },
    entry_points={"console_scripts": ["abbnn=abbnn.cli:main"]},
    cmdclass={"build_py": BuildWithHook, "editable_wheel": EditableWithHook},
    classifiers=[
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)

from setuptools import find_packages, setup

setup(
    name="larq-abbnn",
    version="0.1.0",
    description=(
        "A&B BNN (CVPR 2024) for Larq: trainable with Keras, deployable as Larq Compute "
        "Engine TFLite binaries"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["larq_abbnn", "larq_abbnn.*"]),
    python_requires=">=3.11,<3.12",
    install_requires=[
        # Larq needs Keras 2: TF 2.16+ ships Keras 3 as tf.keras. The CPU build on x86-64
        # (no CUDA libraries to download); the regular build where there is no -cpu wheel.
        "tensorflow-cpu==2.15.1; platform_machine=='x86_64' or platform_machine=='AMD64'",
        "tensorflow==2.15.1; platform_machine!='x86_64' and platform_machine!='AMD64'",
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
        "dev": ["pytest>=7", "hypothesis>=6", "dill"],  # dill: tfds.testing.mock_data,
        "bench": ["larq-zoo==2.4.0"],
    },
    entry_points={"console_scripts": ["abbnn=larq_abbnn.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)

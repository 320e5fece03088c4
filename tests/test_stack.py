"""The supported TensorFlow stacks: Keras 2 selected with no user step, clear refusals of
the others, and setup.py's extras in step with `abbnn.stack` (docs: README, "Installing")."""

import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf
from conftest import REPO

from abbnn import stack

OWN_KERAS_2 = stack.minor(tf.__version__) == stack.OWN_KERAS_2
#: What a user exports to get Keras 2 here (nothing on 2.15 without tf_keras).
KERAS_2 = {stack.VARIABLE: "1"} if stack.has_tf_keras() else {}


def _python(code: str, *, without_hook: bool = False, **env) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter whose environment has neither TF_USE_LEGACY_KERAS nor
    TF_ENABLE_ONEDNN_OPTS (as a user's shell), plus `env`. `without_hook`: `python -S`,
    without the install's start-up hook (which sets both first), this process's `sys.path`
    given as PYTHONPATH."""
    clean = {k: v for k, v in os.environ.items() if k not in (stack.VARIABLE, stack.ONEDNN)}
    if without_hook:
        clean["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run(
        [sys.executable, *(["-S"] if without_hook else []), "-c", code],
        capture_output=True,
        text=True,
        env={**clean, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        timeout=300,
    )


def test_import_larq_abbnn_selects_keras_2_with_no_user_step():
    result = _python(
        "import larq_abbnn, larq, tensorflow as tf\n"
        "from larq_abbnn import zoo\n"
        "m = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.125)\n"
        "print(tf.keras.layers.Layer.__module__, type(m).__module__)\n"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    layer_module, model_module = result.stdout.split()
    assert stack.problem(tf.__version__, layer_module, stack.has_tf_keras()) is None
    if not OWN_KERAS_2:
        assert layer_module.startswith("tf_keras.") and model_module.startswith("tf_keras.")


def test_larq_imported_before_larq_abbnn_works():
    """larq first (as `import larq as lq` above `from larq_abbnn import ...` in a script): tf.keras
    is then named `tensorflow.keras`, which must not read as Keras 3."""
    result = _python("import larq\nimport larq_abbnn\nprint('ok')", **KERAS_2)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


def test_import_larq_first_works_in_the_environment_the_install_made():
    """Larq's docs' order, `import larq as lq` first, with nothing exported: the start-up
    hook setup.py installs selects Keras 2 before anything imports TensorFlow (without it,
    on TF 2.16+: `module 'keras._tf_keras.keras.layers' has no attribute
    'LocallyConnected1D'`)."""
    result = _python(
        "import larq as lq\nimport tensorflow as tf\nfrom larq_abbnn import zoo\n"
        "m = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.125)\n"
        "print(tf.keras.layers.Layer.__module__, lq.layers.QuantConv2D.__module__)"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    layer_module = result.stdout.split()[0]
    assert stack.problem(tf.__version__, layer_module, stack.has_tf_keras()) is None
    if not OWN_KERAS_2:
        assert layer_module.startswith("tf_keras.")


def test_the_cli_selects_keras_2_with_no_user_step():
    result = _python(
        "import sys; from abbnn import cli\n"
        "sys.exit(cli.main(['summary', 'ab_xnornet18', '--input-shape', '32,32,3']))"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "layer4.3.conv1" in result.stdout


@pytest.mark.skipif(OWN_KERAS_2, reason="TensorFlow 2.15's tf.keras is Keras 2 in any order")
def test_tensorflow_imported_first_with_keras_3_is_refused_with_what_to_do():
    """Keras 3 asked for (the variable set to 0 overrides the install's start-up hook)."""
    result = _python("import tensorflow\nimport larq_abbnn", TF_USE_LEGACY_KERAS="0")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert f"TensorFlow {tf.__version__} was imported with Keras 3 as tf.keras" in last, last
    assert "import larq_abbnn before tensorflow, or set TF_USE_LEGACY_KERAS=1" in last, last


@pytest.mark.skipif(OWN_KERAS_2, reason="2.15 with the variable asks for tf_keras (next test)")
def test_tensorflow_imported_first_with_the_variable_set_works():
    result = _python("import tensorflow\nimport larq_abbnn\nprint('ok')", TF_USE_LEGACY_KERAS="1")
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


@pytest.mark.skipif(stack.has_tf_keras(), reason="the case of a stack without tf_keras")
def test_the_variable_without_tf_keras_is_named_instead_of_a_recursion():
    """TensorFlow 2.15 honours TF_USE_LEGACY_KERAS=1 too: without tf_keras its tf.keras
    recursed without end (measured); larq-abbnn says what to do instead."""
    result = _python("import larq_abbnn", TF_USE_LEGACY_KERAS="1")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "that asks for the tf_keras package, which is not installed" in last, last


def test_select_sets_what_the_user_has_not():
    """Keras 2 where tf_keras is installed, oneDNN on x86-64 Linux; a variable the user set
    (here oneDNN's to 0) stays."""
    code = (
        "import os; from abbnn import stack; stack.select(); "
        "print(os.environ.get('TF_USE_LEGACY_KERAS'), os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
    )
    keras_2 = "1" if stack.has_tf_keras() else "None"
    result = _python(code, without_hook=True)
    assert result.stdout.split() == [keras_2, "1" if stack.onednn_host() else "None"], result
    result = _python(code, without_hook=True, TF_ENABLE_ONEDNN_OPTS="0")
    assert result.stdout.split() == [keras_2, "0"], result


@pytest.mark.skipif(not stack.onednn_host(), reason="TensorFlow's oneDNN: x86-64 Linux wheels")
def test_the_install_turns_tensorflow_onednn_on_unless_the_user_said_no():
    """TensorFlow leaves its oneDNN kernels off on x86 CPUs without AVX512_VNNI/BF16 or AMX
    (e.g. an AMD EPYC with AVX2), where training then ran at 1.02x the authors' PyTorch code
    against 1.2x with oneDNN (abbnn/stack.py). The install's start-up hook turns them on before anything imports
    TensorFlow, in Larq's import order, with nothing exported; `TF_ENABLE_ONEDNN_OPTS=0`
    keeps Eigen. (On a CPU where TensorFlow turns oneDNN on itself, only the hook's variable
    tells the two apart, so the test reads both.)"""
    code = (
        "import os; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))\n"
        "import larq as lq\nimport tensorflow as tf\n"
        "from tensorflow.python.util import _pywrap_util_port\n"
        "print(_pywrap_util_port.IsMklEnabled())"
    )
    assert _python(code).stdout.split() == ["1", "True"]
    assert _python(code, TF_ENABLE_ONEDNN_OPTS="0").stdout.split() == ["0", "False"]


@pytest.mark.parametrize(
    "version,layer_module,message",
    [  # Layer.__module__ as measured on 2.15 (own Keras 2), 2.21 with tf_keras, and Keras 3
        ("2.15.1", "keras.src.engine.base_layer", None),
        ("2.21.0", "tf_keras.src.engine.base_layer", None),
        ("2.19.1", "tf_keras.src.engine.base_layer", None),
        ("2.16.2", "tf_keras.src.engine.base_layer", "TensorFlow 2.15 or 2.19, 2.20, 2.21"),
        ("2.14.0", "keras.src.engine.base_layer", "found 2.14.0"),
        ("2.22.0", "tf_keras.src.engine.base_layer", "found 2.22.0"),
        ("2.21.0", "keras.src.layers.layer", "imported with Keras 3 as tf.keras"),
        ("2.20.0", None, 'pip install "tf_keras~=2.20.0"'),
        ("2.15.1", None, "or unset TF_USE_LEGACY_KERAS"),
    ],
)
def test_which_stacks_are_refused_and_how(version, layer_module, message):
    problem = stack.problem(version, layer_module, tf_keras_installed=True)
    if message is None:
        assert problem is None
    else:
        assert problem is not None and message in problem, problem


def test_keras_3_without_tf_keras_says_to_install_it():
    problem = stack.problem("2.21.0", "keras.src.layers.layer", tf_keras_installed=False)
    assert (
        'serves Keras 2, which Larq needs, from the tf_keras package, which is not installed: pip install "tf_keras~=2.21.0"'
        in problem
    )


def test_setup_installs_the_supported_versions():
    """setup.py's ranges, python_requires and classifiers say what abbnn.stack supports."""
    setup = (REPO / "setup.py").read_text()
    low, high = re.search(r'NEW_TF = ">=(\d+\.\d+),<(\d+\.\d+)"', setup).groups()
    lo, hi = int(low.split(".")[1]), int(high.split(".")[1])
    new = tuple(f"2.{m}" for m in range(lo, hi))
    assert (stack.OWN_KERAS_2, *new) == stack.TENSORFLOW_VERSIONS
    assert f'OLD_TF = "{stack.OWN_KERAS_2}.' in setup
    assert 'python_requires=">=3.10,<3.13"' in setup
    for minor in ("3.10", "3.11", "3.12"):
        assert f'"Programming Language :: Python :: {minor}"' in setup


def test_this_interpreter_runs_a_supported_stack():
    import importlib.metadata

    assert stack.minor(tf.__version__) in stack.TENSORFLOW_VERSIONS
    if not OWN_KERAS_2:  # tf_keras pins its TensorFlow minor
        assert stack.minor(importlib.metadata.version("tf_keras")) == stack.minor(tf.__version__)

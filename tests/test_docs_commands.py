"""The README's and the guides' commands and Python snippets, run as a reader runs them, in
order, in a scratch folder per document, at a small size (issue 31: the README's own recipe
broke on the stack it installs, and no test ran it).

Every fenced `bash` or `python` block of README.md and docs/*.md is read. Each shell line
(continuations joined, comments dropped) is one of:
- an `abbnn` command: parsed as written by the real parser (a flag that no longer exists
  fails here), then run in this process with `OPTIONS` replaced and `ADDED` added (the
  dataset becomes an image folder, widths, epochs and inputs small);
- a command that CI runs itself (`BY_CI`: the install and the test command), or one for
  a board or a build host that cannot run here (`ELSEWHERE`): named, so that a new command
  that is neither fails the test until it is run or listed.
Python blocks run in one namespace per document, in order, after `SMALL_PYTHON`'s
substitutions; a block that is a signature, not code, is listed in `NOT_CODE`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import tensorflow as tf
import torch_format
from conftest import FINN_PYTHON, REPO, image_folder
from test_benchmark import BOARD_LOG
from test_checkpoint_import import _reference_state

from abbnn.cli import build_parser

DOCUMENTS = ["README.md", *sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("docs/*.md"))]

#: Shell commands CI runs itself (`.ci/run`), by their first words.
BY_CI = {
    "python3 -m venv": "the README's first command: .ci/run installs and runs the demo",
    "python tools/run_tests.py": "the README's test command: .ci/run runs it",
    "pip install": ".ci/run installs each extra on the stacks it checks",
    "tools/make_finn_venv.sh": ".ci/run builds FINN's venv so",
}
#: FINN's side, run with FINN's venv's Python (tests/test_finn.py's), at this test's size
FINN_COMMAND = ".venv-finn/bin/python -m abbnn.finn "
#: Commands for a build host or a board (the Raspberry Pi guide): not on this machine.
ELSEWHERE = ("git ", "cd ", "./configure.py", "bazel ", "scp ", "ssh ", "chmod ", "for ", "./lce_benchmark_model", "done", "> ")  # fmt: skip
#: Python blocks that document a signature rather than run (their first line).
NOT_CODE = ("Model(*, input_shape=None",)

#: --option -> what it becomes here, for every abbnn command (None: dropped with its value)
OPTIONS = {
    "--epochs": "1",
    "--width-multiplier": "0.125",
    "--batch-size": "8",
    "--input-shape": "32,32,3",
    "--data-dir": None,
    "--runs": "3",
}
#: options added to a command where it does not give them
ADDED = {
    "train": ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8",
              "--width-multiplier", "0.125", "--verbose", "0"],
    "zoo": ["--input-shape", "32,32,3", "--num-classes", "3", "--width-multiplier", "0.125"],
    "convert": ["--verify-samples", "8"],
}  # fmt: skip
#: Python snippets: (pattern, replacement), applied in order
SMALL_PYTHON = [
    (r'data\.load\("cifar10", batch_size=256\)', "data.load(IMAGES, batch_size=8)"),
    (r"epochs=256", "epochs=1"),
    (r"step=1\)", "step=1, width_multiplier=0.125)"),
    (r"print\(verify\(model, flatbuffer\)\)", "print(verify(model, flatbuffer, samples=8))"),
]


def _strict_parser():
    """The CLI's parser, refusing abbreviated options: a document spells each in full, so a
    renamed option (`--epochs` -> `--epoch-count`) is not taken for an abbreviation."""
    parser = build_parser()
    parser.allow_abbrev = False
    for action in parser._subparsers._group_actions:
        for command in action.choices.values():
            command.allow_abbrev = False
    return parser


def _blocks(document: str) -> list[tuple[str, str]]:
    text = (REPO / document).read_text(encoding="utf-8")
    return re.findall(r"^```(bash|python)\n(.*?)^```", text, re.S | re.M)


def _shell_lines(block: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = []
    for line in joined.splitlines():
        line = " ".join(re.sub(r"\s+#.*$", "", line).split())
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _image_folder(dataset: str, images: str) -> str:
    """The scratch image folder standing for `dataset`, under the dataset's own name
    (`cifar10`, `folder:~/images` -> `images`), so that each gets the default run folder
    it would have (`runs/MODEL-DATASET`); all hold the same images."""
    name = dataset.replace("folder:", "").rstrip("/").split("/")[-1]
    root = Path(images.replace("folder:", "")).parent
    if not (root / name).exists():
        (root / name).symlink_to(root / "images", target_is_directory=True)
    return f"folder:{root / name}"


def _small(argv: list[str], images: str) -> list[str]:
    """An `abbnn` command's arguments at this test's size."""
    out, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word == "--dataset" and argv[0] in ("train", "tune", "evaluate"):  # data, not a
            # checkpoint's dataset (import-torch)
            out += ["--dataset", _image_folder(argv[i + 1], images)]
            i += 2
            continue
        if word in OPTIONS:
            if OPTIONS[word] is not None:
                out += [word, OPTIONS[word]]
            i += 2
            continue
        out.append(word)
        i += 1
    command = out[0]
    given = set(out)
    for extra in (
        ADDED.get(command, []),
        ADDED["zoo"] if any(w.startswith("zoo:") for w in out) else [],
    ):
        for option, value in zip(extra[::2], extra[1::2]):
            if option not in given:
                out += [option, value]
                given.add(option)
    return out


@pytest.fixture(scope="module")
def paper_checkpoint(tmp_path_factory) -> Path:
    """A trained-looking ReActNet-A ImageNet checkpoint in the authors' format (116 MB),
    written once for the documents that load one."""
    from larq_abbnn import zoo

    path = tmp_path_factory.mktemp("checkpoint") / "ReActNet_A_ImageNet.h5"
    torch_format.save(_reference_state(zoo.ABReActNetA(num_classes=1000)), path)
    return path


#: the paper's checkpoint under the names the documents give it
CHECKPOINT_NAMES = ("ReActNet_A_ImageNet.h5", "reactneta_imagenet_step2.h5")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> tuple[Path, Path]:
    """The Keras model the documents convert (`model.keras`: ReActNet-18 at this test's
    size) and its converted file, made once and copied into each document's folder."""
    from larq_abbnn import zoo
    from larq_abbnn.converters import convert

    folder = tmp_path_factory.mktemp("model")
    tf.keras.utils.set_random_seed(0)
    model = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=3, width_multiplier=0.125)
    model.save(folder / "model.keras")
    (folder / "model.tflite").write_bytes(convert(model))
    return folder / "model.keras", folder / "model.tflite"


@pytest.fixture
def scratch(tmp_path, monkeypatch, request, small_model):
    """A folder with what the documents' commands read: CIFAR-like images (under each
    dataset's name, `_image_folder`), a Keras model, board logs, and the paper's checkpoint
    and a converted file where the document names them."""
    monkeypatch.chdir(tmp_path)
    images = image_folder(tmp_path / "data" / "images", classes=3, per_class=10)
    text = (REPO / request.node.callspec.params["document"]).read_text(encoding="utf-8")
    if any(name in text for name in CHECKPOINT_NAMES):
        checkpoint = request.getfixturevalue("paper_checkpoint")
        for name in CHECKPOINT_NAMES:
            (tmp_path / name).symlink_to(checkpoint)
    keras_file, tflite_file = small_model
    shutil.copy(keras_file, "model.keras")
    if "model.tflite" in text:  # a converted file, where a guide times one
        for name in ("model.tflite", "other.tflite"):
            shutil.copy(tflite_file, name)
    tf.keras.utils.set_random_seed(0)
    for name in ("pi.log", "ab_reactneta_t1.log", "bnfree_reactneta_t1.log", "ab_reactneta_t4.log"):
        Path(name).write_text(BOARD_LOG)
    return tmp_path, images


def _needs_an_extra(argv: list[str]) -> str | None:
    import importlib.util

    if any(w.endswith(".onnx") for w in argv) and importlib.util.find_spec("qonnx") is None:
        return "the [onnx] extra"
    return None


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_command_and_snippet_of_the_document_runs(document, scratch, abbnn, capsys):
    folder, images = scratch
    parser = _strict_parser()
    ran, listed = [], []
    namespace = {"IMAGES": images}
    for language, block in _blocks(document):
        if language == "python":
            if block.startswith(NOT_CODE):
                listed.append(block.splitlines()[0])
                continue
            code = block
            for pattern, replacement in SMALL_PYTHON:
                code = re.sub(pattern, replacement, code)
            start = time.perf_counter()
            try:
                exec(compile(code, f"{document} snippet", "exec"), namespace)
            except Exception as error:
                pytest.fail(f"{document}: this snippet failed ({error!r}):\n{block}")
            ran.append((time.perf_counter() - start, block.splitlines()[0]))
            continue
        for line in _shell_lines(block):
            if line.startswith("abbnn "):
                argv = shlex.split(line)[1:]
                try:
                    parser.parse_args(argv)  # as written: every flag still exists
                except SystemExit:
                    pytest.fail(f"{document}: `{line}` does not parse: {capsys.readouterr().err}")
                if _needs_an_extra(argv):
                    listed.append(line)
                    continue
                small = _small(argv, images)
                start = time.perf_counter()
                code, out, err = abbnn(*small)
                assert code == 0, f"{document}: `{line}` (run as `abbnn {' '.join(small)}`):\n{err}"
                ran.append((time.perf_counter() - start, line))
            elif line.startswith(FINN_COMMAND):
                if not os.path.exists(FINN_PYTHON):
                    listed.append(line)  # tests/test_finn.py says it was skipped, and why
                    continue
                argv = [FINN_PYTHON, *shlex.split(line)[1:], "--inputs", "2"]
                start = time.perf_counter()
                run = subprocess.run(argv, capture_output=True, text=True, timeout=900)
                assert run.returncode == 0, f"{document}: `{line}`:\n{run.stderr}"
                ran.append((time.perf_counter() - start, line))
            elif any(line.startswith(prefix) for prefix in BY_CI):
                listed.append(line)
            elif line.startswith(ELSEWHERE):
                listed.append(line)
            else:
                pytest.fail(
                    f"{document}: `{line}` is neither run by this test nor listed as run by CI "
                    "or elsewhere (tests/test_docs_commands.py)"
                )
    print(f"{document}: {len(ran)} run, {len(listed)} listed as run elsewhere")
    for seconds, line in ran:  # what each costs (pytest -s), to keep the suite short
        print(f"{seconds:6.1f} s  {line}")
    assert ran or listed or not _blocks(document)  # a document with blocks was read


def test_the_readmes_links_name_files_that_exist():
    """The README's relative links (the guides' own are checked by `mkdocs build --strict`
    in CI)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    relative = [link for link in links if "://" not in link]
    assert len(relative) >= 10
    missing = [link for link in relative if not (REPO / link).exists()]
    assert not missing, missing


def test_the_runner_refuses_an_unknown_flag_and_an_unlisted_command(tmp_path):
    """The check can fail: a flag the parser lacks, a line no list names."""
    with pytest.raises(SystemExit):
        _strict_parser().parse_args(["train", "--epoch", "3"])  # argparse's own would take it
    lines = _shell_lines(
        "abbnn train --model ab_reactnet18 \\\n  --epochs 30  # a comment\nmake all\n"
    )
    assert lines == ["abbnn train --model ab_reactnet18 --epochs 30", "make all"]
    assert not lines[1].startswith(ELSEWHERE) and not any(lines[1].startswith(p) for p in BY_CI)
    assert _small(shlex.split(lines[0])[1:], "folder:x") == [
        "train", "--model", "ab_reactnet18", "--epochs", "1", "--steps-per-epoch", "1",
        "--batch-size", "8", "--width-multiplier", "0.125", "--verbose", "0",
    ]  # fmt: skip
    # the recipe's default 256 epochs become one as well
    assert _small(["train", "--two-step"], "folder:x")[:3] == ["train", "--two-step", "--epochs"]

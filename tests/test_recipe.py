"""`abbnn.recipe` is the one source of the recipe's defaults: the training code, the CLI
and the recipe table of docs/training.md must all say what it says."""

import re
from pathlib import Path

import pytest

from abbnn import cli, recipe
from larq_abbnn import data, training, zoo
from larq_abbnn.training import run

README = (Path(__file__).parent.parent / "docs" / "training.md").read_text()  # the recipe table


def _readme_default(flag: str) -> str:
    match = re.search(rf"^\| `{flag}` \| ([^|]+) \|", README, re.M)
    assert match, f"docs/training.md's recipe table has no row for {flag}"
    return match.group(1).strip()


def test_the_readme_table_states_the_recipe():
    assert _readme_default("--epochs") == str(recipe.EPOCHS)
    assert _readme_default("--batch-size") == str(recipe.BATCH_SIZE)
    assert _readme_default("--lr") == str(recipe.LEARNING_RATE)
    assert _readme_default("--seed") == str(recipe.SEED)
    assert _readme_default("--weight-decay") == (
        f"{recipe.STEP1_WEIGHT_DECAY} in step 1, 0 in step 2"
    )
    clip = ", ".join(f"{factor} {stem}" for stem, factor in recipe.CLIP_FACTOR.items())
    assert _readme_default("--clip-factor") == f"{clip} (by stem)"


def test_the_cli_and_the_training_code_use_the_recipe():
    train = cli.build_parser().parse_args(["train"])
    assert (train.epochs, train.batch_size, train.lr, train.seed) == (
        recipe.EPOCHS,
        recipe.BATCH_SIZE,
        recipe.LEARNING_RATE,
        recipe.SEED,
    )
    assert run.LEARNING_RATE is recipe.LEARNING_RATE
    assert (
        run.CLIP_FACTOR is recipe.CLIP_FACTOR
        and run.STEP1_WEIGHT_DECAY is recipe.STEP1_WEIGHT_DECAY
    )
    assert training.compile_for_step.__kwdefaults__["learning_rate"] == recipe.LEARNING_RATE


@pytest.mark.parametrize(
    "height,width,stem",
    [(32, 32, "cifar"), (64, 64, "cifar"), (64, 96, "imagenet"), (65, 65, "imagenet"),
     (224, 224, "imagenet"), (None, None, "imagenet")],
)  # fmt: skip
def test_one_stem_rule_for_the_zoo_and_the_data(height, width, stem, tmp_path):
    assert recipe.stem_for(height, width) == stem
    if height is None:
        return
    model = zoo.ABXnorNet18(input_shape=(height, width, 3), num_classes=2, include_top=False)
    assert model.get_layer("conv1").kernel_size == ((3, 3) if stem == "cifar" else (7, 7))
    import numpy as np
    import tensorflow as tf

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(2):
            pixels = np.zeros((height, width, 3), np.uint8)
            (tmp_path / label / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    assert data.load(f"folder:{tmp_path}", batch_size=2, validation_fraction=0.5).stem == stem

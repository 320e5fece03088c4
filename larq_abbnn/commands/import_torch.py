"""`abbnn import-torch CHECKPOINT --model M --dataset D -o model.keras`."""

import argparse
import os
import tempfile

from larq_abbnn import zoo
from larq_abbnn.cli import DATASETS
from larq_abbnn.converters import load_official_checkpoint


def run(args: argparse.Namespace) -> int:
    if not args.output.endswith((".keras", ".h5")):
        raise ValueError(f"output must end in .keras or .h5, got {args.output}")
    stem, classes, size = DATASETS[args.dataset]
    model = zoo.get(args.model)(
        (size, size, 3), classes, stem=stem, step=args.step, padding="reference"
    )
    report = load_official_checkpoint(model, args.checkpoint)
    folder = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(folder, exist_ok=True)
    # Keras picks the format from the extension: save under the same one, then rename.
    suffix = ".keras" if args.output.endswith(".keras") else ".h5"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".import-", suffix=suffix)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"{report} ({args.dataset}, step {args.step})")
    print(f"wrote {args.output}")
    return 0

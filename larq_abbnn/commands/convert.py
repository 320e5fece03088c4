"""`abbnn convert MODEL -o model.tflite [--verify] [--audit]`."""

import argparse
import time

from larq_abbnn.commands.models import load_model
from larq_abbnn.converters import convert, count_multiplications, op_counts, verify
from larq_abbnn.files import atomic_write_bytes


def run(args: argparse.Namespace) -> int:
    if not args.output.endswith(".tflite"):
        raise ValueError(f"output must end in .tflite, got {args.output}")
    model = load_model(args.model, args)
    start = time.perf_counter()
    flatbuffer = convert(model)
    seconds = time.perf_counter() - start
    atomic_write_bytes(args.output, flatbuffer)
    ops = op_counts(flatbuffer)
    print(
        f"wrote {args.output}: {len(flatbuffer) / 1e6:.2f} MB, folded and converted in "
        f"{seconds:.1f} s; {ops.get('LceBconv2d', 0)} LceBconv2d"
    )
    print("ops: " + ", ".join(f"{name} {n}" for name, n in sorted(ops.items())))
    if args.audit:
        print(count_multiplications(flatbuffer).table())
    if args.verify:
        print("verify: " + str(verify(model, flatbuffer, samples=args.verify_samples)))
    return 0

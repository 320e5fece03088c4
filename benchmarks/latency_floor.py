"""How far can a converter go? Each network's binary convs alone, against the whole file.

    python benchmarks/latency_floor.py [--size 224] [--kernel indirect_bgemm] [--rounds 3]

For ABReActNetA, BNFreeReActNetA, QuickNetLarge, ABReActNet18 and BiRealNet (larq-zoo,
`weights=None`) this times, in one process and in interleaved rounds, on one thread:

- the whole converted file (A&B and BN-Free with trained-looking weights, so that
  their biases are in the graph as in a trained model);
- the binary-conv floor: the network's binary convs alone, chained sign -> bconv -> sign
  -> bconv ... in graph order (convs reading the same tensor, like ReActNet-A's two
  1x1 halves, merged into one with their filters summed: the same MACs), one-padded,
  in as few files as the shapes allow (one for ReActNet-A and the ResNet-18s). LCE
  writes each chained bconv's output bitpacked, cheaper than the float output and
  separate quantize the real network needs. No converter can make the network faster
  than this without changing its binary convs: it is less than what is left when every
  other op (adds, PReLUs, pools, the stem and the head) costs nothing.

It prints both, the share of time outside the binary convs, and the best ratio any
fold could reach against each reference (floor of ours / whole reference file).
"""

import argparse
import statistics

from abbnn import stack

stack.select()  # before TensorFlow loads (abbnn/stack.py)
import larq as lq  # noqa: E402
import tensorflow as tf  # noqa: E402

from larq_abbnn.layers import is_binary_conv  # noqa: E402


def binary_convs(model: tf.keras.Model) -> list[tf.keras.layers.Layer]:
    """Convs with binary inputs and binary kernels: what becomes `LceBconv2d`."""
    return [layer for layer in model.layers if is_binary_conv(layer)]


def floor_models(model: tf.keras.Model) -> list[tf.keras.Model]:
    """The binary convs of `model` as chains of sign -> bconv, split where shapes break."""
    convs = []  # (input tensor, filters, layer), same-input convs merged
    for layer in binary_convs(model):
        same = [c for c in convs if c[0] is layer.input and c[2].kernel_size == layer.kernel_size]
        if same and same[0][2].strides == layer.strides:
            same[0][1] += layer.filters
        else:
            convs.append([layer.input, layer.filters, layer])
    chains, x, inputs = [], None, None
    for _, filters, layer in convs:
        if x is None or tuple(x.shape[1:]) != tuple(layer.input_shape[1:]):
            if x is not None:
                chains.append(tf.keras.Model(inputs, x))
            inputs = x = tf.keras.Input(layer.input_shape[1:])
        x = lq.layers.QuantConv2D(
            filters,
            layer.kernel_size,
            strides=layer.strides,
            padding="valid" if layer.padding == "valid" else "same",
            pad_values=1.0,  # LCE's cheapest padding
            input_quantizer="ste_sign",
            kernel_quantizer="ste_sign",
            kernel_constraint="weight_clip",
            use_bias=False,
        )(x)
    chains.append(tf.keras.Model(inputs, x))
    return chains


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--kernel", default="indirect_bgemm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()

    import larq_zoo
    from larq_compute_engine import convert_keras_model

    from larq_abbnn import zoo
    from larq_abbnn.analysis.benchmark import measure
    from larq_abbnn.analysis.synthetic import trained_looking
    from larq_abbnn.converters import convert

    shape = (args.size, args.size, 3)
    keras_models = {
        "ABReActNetA": trained_looking(zoo.ABReActNetA(input_shape=shape)),
        "BNFreeReActNetA": trained_looking(zoo.BNFreeReActNetA(input_shape=shape)),
        "QuickNetLarge": larq_zoo.sota.QuickNetLarge(input_shape=shape, weights=None),
        "ABReActNet18": trained_looking(zoo.ABReActNet18(input_shape=shape)),
        "BiRealNet": larq_zoo.literature.BiRealNet(input_shape=shape, weights=None),
    }
    files, parts = {}, {}
    for name, model in keras_models.items():
        files[name] = (convert if name.startswith(("AB", "BNFree")) else convert_keras_model)(model)
        parts[name] = [convert_keras_model(chain) for chain in floor_models(model)]

    def time(flatbuffer) -> float:
        return measure(flatbuffer, runs=args.runs, kernel=args.kernel).median_ms

    whole = {name: [] for name in files}
    floor = {name: [] for name in files}
    for _ in range(args.rounds):
        for name in files:
            whole[name].append(time(files[name]))
            floor[name].append(sum(time(part) for part in parts[name]))
    whole = {name: statistics.median(v) for name, v in whole.items()}
    floor = {name: statistics.median(v) for name, v in floor.items()}

    print(f"{args.size}x{args.size}, 1 thread, LCE kernel {args.kernel}, median of {args.rounds}")
    print(f"{'model':<16} {'bconvs':>6} {'files':>5} {'file ms':>8} {'floor ms':>9} {'rest':>5}")
    for name in files:
        rest = 1 - floor[name] / whole[name]
        convs = len(binary_convs(keras_models[name]))
        print(
            f"{name:<16} {convs:>6} {len(parts[name]):>5} {whole[name]:>8.1f} "
            f"{floor[name]:>9.1f} {rest:>5.0%}"
        )
    for ours, reference, target in (
        ("ABReActNetA", "QuickNetLarge", 1.0),
        ("ABReActNetA", "BNFreeReActNetA", 0.9),
        ("ABReActNet18", "BiRealNet", 1.0),
    ):
        print(
            f"{ours} / {reference}: now {whole[ours] / whole[reference]:.2f}, best any fold "
            f"could reach {floor[ours] / whole[reference]:.2f} (target <= {target})"
        )


if __name__ == "__main__":
    main()

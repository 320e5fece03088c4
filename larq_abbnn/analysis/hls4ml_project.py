"""What an hls4ml project computes with, read from the C++ it wrote: each layer's product
kind and hls4ml's own count of its product units.

hls4ml writes one configuration struct per layer into `firmware/parameters.h`, after a
comment naming the layer. A layer that multiplies says how in `using product =
nnet::product::KIND<...>` (hls4ml's `FPGABackend.product_type`, from the types of its
data and constants), and how many product units it instantiates in `multiplier_limit`
(its inputs times outputs over the reuse factor). The kinds:

- `mult`: a full multiplier (a DSP or LUT multiplier per unit);
- `weight_exponential`: the constant is a signed power of two, the product a shift
  (`converters.hls4ml_flow.ScalesAsShifts` gives hls4ml such constants);
- `both_binary`: XNOR of 1-bit data and weights, popcounted (the binary convs);
- `weight_binary` / `data_binary`: one side is +-1, the product a sign-selected add;
- `weight_ternary`: the constant is -1, 0 or +1.

Neither a synthesis report (Vivado, Vitis HLS) nor running the code is needed: this is
the `audit` of an hls4ml project. Why by hand: hls4ml reports resources only from
synthesis, and its Python model does not survive the project (a project folder has no
reader back into hls4ml).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass

from larq_abbnn.converters.hls4ml_flow import PARAMETERS, is_project

__all__ = ["Layer", "PARAMETERS", "Project", "is_project", "read"]

#: product kind -> what the hardware does, for the table
KINDS = {
    "mult": "multiplications",
    "weight_exponential": "shifts: power-of-two constants",
    "both_binary": "XNOR-popcount: binary data and weights",
    "weight_binary": "sign-selected adds: binary weights",
    "data_binary": "sign-selected adds: binary data",
    "weight_ternary": "ternary adds",
}

_STRUCT = re.compile(r"^struct (\w+) : nnet::(\w+) \{$(.*?)^\};", re.M | re.S)
_COMMENT = re.compile(r"^// (\S+)$", re.M)
_CONSTANT = re.compile(r"static const (?:unsigned|int|bool) (\w+) =\s*([^;]+);")
_PRODUCT = re.compile(r"using product = nnet::product::(\w+)<")


@dataclass(frozen=True)
class Layer:
    #: the layer's name in hls4ml's graph
    name: str
    #: `nnet::product::` kind (`KINDS`)
    product: str
    #: hls4ml's `multiplier_limit`: the product units it instantiates (for `mult`, the
    #: multipliers; hls4ml counts a binary layer's 0-coded weights as pruned zeros, so
    #: its figure for the other kinds is not a unit count)
    units: int


@dataclass(frozen=True)
class Project:
    path: str
    #: the layers with a product, in the order hls4ml wrote them
    layers: tuple[Layer, ...]

    def multipliers(self) -> dict[str, int]:
        """{layer: multiplier units} of the layers with full multipliers (`mult`)."""
        return {layer.name: layer.units for layer in self.layers if layer.product == "mult"}

    def table(self) -> str:
        layers = Counter(layer.product for layer in self.layers)
        lines = [f"hls4ml project {self.path}: each layer's product kind ({PARAMETERS})"]
        for kind in sorted(layers, key=lambda k: list(KINDS).index(k) if k in KINDS else 99):
            lines.append(
                f"{kind + ':':<21}{layers[kind]:>4} layers  ({KINDS.get(kind, 'unknown')})"
            )
        multipliers = self.multipliers()
        listed = ", ".join(f"{name} {units:,}" for name, units in multipliers.items())
        lines.append(
            f"multiplier units (hls4ml's multiplier_limit): {sum(multipliers.values()):,} in "
            f"{len(multipliers)} layers{': ' + listed if listed else ''}"
        )
        return "\n".join(lines)


def read(path: str | os.PathLike) -> Project:
    """The project hls4ml wrote into folder `path`; a clear error for any other folder."""
    path = os.fspath(path)
    if not is_project(path):
        raise ValueError(
            f"{path} is not an hls4ml project: it has no {PARAMETERS} (write one with "
            "abbnn convert MODEL --format hls4ml -o FOLDER)"
        )
    with open(os.path.join(path, PARAMETERS)) as f:
        text = f.read()
    return Project(path, tuple(_layers(text)))


def _layers(text: str):
    """Each commented layer's product kind and units: a conv writes its product in a
    `..._mult` dense struct and its units in the conv struct after it."""
    comments = [(m.start(), m.group(1)) for m in _COMMENT.finditer(text)]
    by_layer: dict[str, list[str]] = {}
    for struct in _STRUCT.finditer(text):
        owner = [name for start, name in comments if start < struct.start()]
        if owner:
            by_layer.setdefault(owner[-1], []).append(struct.group(3))
    for name, bodies in by_layer.items():
        products = [m.group(1) for body in bodies for m in _PRODUCT.finditer(body)]
        if not products:
            continue
        units = [_multiplier_limit(body) for body in bodies]
        yield Layer(name, products[0], [u for u in units if u is not None][-1])


def _multiplier_limit(body: str) -> int | None:
    """A struct's `multiplier_limit`, evaluated from its integer constants (C's integer
    division; `DIV_ROUNDUP` as hls4ml defines it)."""
    constants = {}
    for name, expression in _CONSTANT.findall(body):
        value = _evaluate(expression, constants)
        if value is not None:
            constants[name] = value
    return constants.get("multiplier_limit")


def _evaluate(expression: str, constants: dict) -> int | None:
    expression = " ".join(expression.split())
    if not re.fullmatch(r"[\w\s()*/+,-]+", expression):
        return None  # casts, templates, enums: not a count
    names = {**constants, "DIV_ROUNDUP": lambda n, d: -(-n // d), "true": 1, "false": 0}
    try:
        value = eval(expression.replace("/", "//"), {"__builtins__": {}}, names)  # noqa: S307
    except (NameError, SyntaxError, TypeError, ZeroDivisionError):
        return None
    return int(value) if isinstance(value, int) else None

"""Walking a Keras model's graph of layers: the one place fold and the audit read it from.

Zoo models call each layer once, so a layer's first inbound node is its place in the
graph; `fold` refuses layers used more than once before it relies on that.
"""

from __future__ import annotations

from collections import defaultdict

import tensorflow as tf


def inbound_layers(layer: tf.keras.layers.Layer) -> list:
    """The layers feeding `layer` (called once, as in zoo models), in input order."""
    inbound = layer.inbound_nodes[0].inbound_layers
    return inbound if isinstance(inbound, list) else [inbound]


def consumers(model: tf.keras.Model) -> dict[str, list]:
    """Layer name -> the layers it feeds (empty for a layer that feeds none)."""
    found = defaultdict(list)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.InputLayer):
            continue
        for source in inbound_layers(layer):
            found[source.name].append(layer)
    return found


def descendants(readers: dict[str, list], layer: tf.keras.layers.Layer) -> list:
    """Every layer computed from `layer`'s output (not itself), given `consumers(model)`."""
    found, stack = {}, list(readers[layer.name])
    while stack:
        reader = stack.pop()
        if reader.name not in found:
            found[reader.name] = reader
            stack.extend(readers[reader.name])
    return list(found.values())


def ancestors(layer: tf.keras.layers.Layer) -> set[str]:
    """Names of every layer `layer` depends on (itself included, input layers not)."""
    seen, stack = set(), [layer]
    while stack:
        current = stack.pop()
        if current.name in seen or isinstance(current, tf.keras.layers.InputLayer):
            continue
        seen.add(current.name)
        stack.extend(inbound_layers(current))
    return seen


def output_layers(model: tf.keras.Model) -> list:
    """The layers computing the model's outputs, in output order."""
    return [tensor._keras_history.layer for tensor in model.outputs]

"""What a network spec (Schemas/network.md) says beyond its layers' own fields: padding, and the
names of the tensors in a model file (Schemas/model.md). Shared by the PyTorch module here and
the float64 NumPy interpreter in Tests/python/test_forward.py."""

import math

import numpy as np


def pair(v):
    """One size, or (rows, columns)."""
    return (v, v) if isinstance(v, int) else tuple(v)


def axis(n: int, window: int, stride: int, padding: str) -> tuple:
    """Output length and (before, after) padding along one axis: "same" as TensorFlow (output
    ceil(n / stride), total padding split with the smaller half before), "valid" no padding."""
    if padding == "valid":
        return (n - window) // stride + 1, (0, 0)
    out = -(-n // stride)
    total = max(0, (out - 1) * stride + window - n)
    return out, (total // 2, total - total // 2)


def axes(padding) -> tuple:
    """A layer's `padding` ("same", "valid", or [rows, columns] of those) as (rows, columns)."""
    return (padding, padding) if isinstance(padding, str) else tuple(padding)


def learnable(layer: dict) -> bool:
    return layer["type"] in ("convolution", "dense")


def tensor_prefixes(spec: dict) -> tuple:
    """The tensor name prefix of every layer (None for those without weights): (trunk prefixes,
    [(head prefix, its layers' prefixes or None for a lone dense layer)]).

    Learnable layers are numbered from 1 over the trunk and then the heads: a layer is called by
    its `name`, else `conv<n>` or `dense<n>`; a head by its `name`, else `output` when it is the
    only one, else `output_<kind>`. A head without `layers` is one dense layer named by the head's
    prefix (and takes a number); a head's own layers are `<prefix>.<layer name>`."""
    count = 0

    def names(layers, prefix=None):
        nonlocal count
        found = []
        for layer in layers:
            if not learnable(layer):
                found.append(None)
                continue
            count += 1
            own = layer.get("name") or ("conv" if layer["type"] == "convolution" else "dense") + str(count)
            found.append(own if prefix is None else f"{prefix}.{own}")
        return found

    trunk = names(spec["layers"])
    heads = []
    for head in spec["heads"]:
        prefix = head.get("name") or ("output" if len(spec["heads"]) == 1 else "output_" + head["kind"])
        if head.get("layers") is None:
            count += 1
            heads.append((prefix, None))
        else:
            heads.append((prefix, names(head["layers"], prefix)))
    return trunk, heads


# The defaults of a layer's optional fields (Schemas/network.md).
LRN_DEFAULTS = {"radius": 4, "bias": 1.0, "alpha": 0.001 / 9, "beta": 0.75}

# Outputs of each head kind.
HEAD_OUTPUTS = {"single": 128, "frame": 88, "onset": 88, "offset": 88, "multi": 88}


def standardise(pixels: np.ndarray, crop, normalization=None) -> np.ndarray:
    """The network's input as InputPipeline evaluates: uint8 N x R x C -> float64 N x 1 x cr x cc,
    the centre crop to `crop` (one size or (rows, columns); offsets rounded down), / 255, then
    the spec's fixed `normalization` ({"mean": m, "std": s}: (x - m) / s) when given, else per
    image (x - mean) / max(std, 1 / sqrt(n)) with the population std (TensorFlow's
    per_image_standardization)."""
    cr, cc = pair(crop)
    oy, ox = (pixels.shape[1] - cr) // 2, (pixels.shape[2] - cc) // 2
    x = pixels[:, oy : oy + cr, ox : ox + cc].astype(np.float64) / 255
    if normalization is not None:
        return ((x - normalization["mean"]) / normalization["std"])[:, None]
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    return ((x - mean) / np.maximum(std, 1 / math.sqrt(cr * cc)))[:, None]

"""A piano-thumbs model file (Schemas/model.md: safetensors, the network spec in its metadata)
as a torch.nn.Module: the same layers, padding and pooling as the Swift network
(Schemas/network.md), so its outputs equal `infer --save-arrays`'s to float32 rounding."""

import json
import math

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

from .spec import HEAD_OUTPUTS, LRN_DEFAULTS, axes, axis, pair, standardise, tensor_prefixes


def read_metadata(path) -> dict:
    """The model file's metadata (all strings)."""
    with safe_open(str(path), "pt") as f:
        return dict(f.metadata() or {})


class PianoNetwork(torch.nn.Module):
    """The network a spec describes, with its weights as parameters named as in the model file.

    `forward(x)` takes N x 1 x rows x columns standardised images (`prepare`) and returns every
    head's logits in the spec's head order; `probabilities(x)` returns what `infer` saves: each
    head's softmax (`single`) or sigmoids (`frame`, `onset`, `offset`), side by side."""

    def __init__(self, spec: dict, input_shape, tensors: dict):
        super().__init__()
        self.spec = spec
        self.input_shape = tuple(int(v) for v in input_shape)
        self.trunk_names, self.head_names = tensor_prefixes(spec)
        # Parameter names may not contain "."; keep the file's names in a dict beside them.
        self.weights = torch.nn.ParameterDict({name.replace(".", "/"): torch.nn.Parameter(t.clone()) for name, t in tensors.items()})

    def tensor(self, name: str) -> torch.Tensor:
        return self.weights[name.replace(".", "/")]

    @property
    def heads(self) -> list:
        """The head kinds, in order."""
        return [h["kind"] for h in self.spec["heads"]]

    def run(self, x: torch.Tensor, layers: list, names: list) -> torch.Tensor:
        for layer, name in zip(layers, names):
            kind = layer["type"]
            if kind in ("convolution", "maxPool"):
                window = pair(layer["kernel"] if kind == "convolution" else layer["window"])
                stride = pair(layer.get("stride", 1 if kind == "convolution" else window))
                padding = axes(layer.get("padding", "same"))
                _, (top, bottom) = axis(x.shape[2], window[0], stride[0], padding[0])
                _, (left, right) = axis(x.shape[3], window[1], stride[1], padding[1])
                if top or bottom or left or right:
                    x = F.pad(x, (left, right, top, bottom), value=0.0 if kind == "convolution" else -math.inf)
                if kind == "convolution":
                    x = F.conv2d(x, self.tensor(name + ".weight"), self.tensor(name + ".bias"), stride=stride)
                else:
                    x = F.max_pool2d(x, window, stride)
            elif kind == "relu":
                x = F.relu(x)
            elif kind == "lrn":
                x = self.lrn(x, {**LRN_DEFAULTS, **{k: layer[k] for k in LRN_DEFAULTS if k in layer}})
            elif kind == "dense":
                x = F.linear(x.flatten(1), self.tensor(name + ".weight"), self.tensor(name + ".bias"))[:, :, None, None]
            elif kind == "flatten":
                x = x.flatten(1)[:, :, None, None]
            elif kind == "flipRows":
                x = x.flip(2)
            elif kind == "rowShifts":  # channel c*S + i is channel c moved up by shifts[i] rows, zero outside
                rows, parts = x.shape[2], []
                for shift in layer["shifts"]:
                    y = torch.zeros_like(x)
                    lo, hi = max(0, -shift), min(rows, rows - shift)
                    if hi > lo:
                        y[:, :, lo:hi] = x[:, :, lo + shift : hi + shift]
                    parts.append(y)
                x = torch.stack(parts, 2).flatten(1, 2)
            else:
                raise ValueError(f"unknown layer type {kind!r}")
        return x

    def lrn(self, x: torch.Tensor, p: dict) -> torch.Tensor:
        """TensorFlow's lrn (Schemas/network.md): alpha per element, a window of 2 radius + 1
        channels; `p` holds radius, bias, alpha and beta."""
        size = 2 * p["radius"] + 1
        return F.local_response_norm(x, size, alpha=p["alpha"] * size, beta=p["beta"], k=p["bias"])

    def forward(self, x: torch.Tensor) -> list:
        features = self.run(x, self.spec["layers"], self.trunk_names)
        logits = []
        for head, (prefix, names) in zip(self.spec["heads"], self.head_names):
            if names is None:
                logits.append(F.linear(features.flatten(1), self.tensor(prefix + ".weight"), self.tensor(prefix + ".bias")))
            else:
                logits.append(self.run(features, head["layers"], names).flatten(1))
        return logits

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Every head's probabilities side by side (`<stem>.outputs.npy`'s columns)."""
        return torch.cat([z.softmax(1) if kind == "single" else z.sigmoid() for z, kind in zip(self(x), self.heads)], 1)

    def prepare(self, pixels) -> torch.Tensor:
        """This network's input from uint8 thumbnails (`prepare` with its input shape and normalization)."""
        return prepare(pixels, self.input_shape, normalization=self.spec.get("normalization"))

    @property
    def output_width(self) -> int:
        return sum(HEAD_OUTPUTS[k] for k in self.heads)


def load_model(path, dtype=torch.float32) -> PianoNetwork:
    """Reads a model file (version 2: the spec in its metadata) into a PianoNetwork in eval mode."""
    metadata = read_metadata(path)
    if metadata.get("format") != "piano-model" or "network" not in metadata:
        raise ValueError(f"{path}: not a piano-model file with a network spec (version 2)")
    if metadata.get("checkpoint") == "true":
        raise ValueError(f"{path}: a training checkpoint, not a model")
    tensors = {k: v.to(dtype) for k, v in load_file(str(path)).items()}
    network = PianoNetwork(json.loads(metadata["network"]), json.loads(metadata["input"]), tensors)
    network.front_end = json.loads(metadata["frontEnd"])
    return network.eval()


def prepare(pixels, input_shape, dtype=torch.float32, normalization=None) -> torch.Tensor:
    """The network's input from uint8 thumbnails (N x rows x columns, or one rows x columns), as
    InputPipeline evaluates (`spec.standardise`: centre crop to `input_shape`'s last two sizes,
    / 255, the spec's fixed `normalization` or per-image standardisation). Returns N x 1 x rows
    x columns (or 1 x rows x columns)."""
    pixels = np.asarray(pixels)
    x = standardise(pixels[None] if pixels.ndim == 2 else pixels, tuple(input_shape)[-2:], normalization)
    x = torch.from_numpy(x).to(dtype)
    return x[0] if pixels.ndim == 2 else x

"""The network's forward pass, re-implemented in float64 NumPy and checked against `infer`.

`infer --save-arrays` writes, per recording, `<stem>.thumbnails.npy` (uint8 steps x S x S: the
network's input pixels after the JPEG round trip) and `<stem>.outputs.npy` (float32 steps x K:
softmax probabilities over 128 classes for `single` models, a sigmoid per key for the 88 keys of
`multi` ones). The two models are conftest's: `end_to_end` (architecture `simple`, single labels,
whole 32x32 thumbnails, three held-out recordings) and `end_to_end_original` (architecture
`original`, multi labels, 25x25 centre crop, one recording).

Checked here, with no code shared with the Swift implementation (the weights are read with the
safetensors package, the JPEGs decoded with Pillow):

1. NumPy's forward pass on thumbnails.npy gives outputs.npy, within FORWARD_TOLERANCE.
2. thumbnails.npy holds exactly the pixels of the JPEGs `spectro` writes for the same recording
   (run here on the session's note map of it, with the model's front-end settings), decoded by
   Pillow's libjpeg-turbo: byte for byte.
3. The per-step decisions agree: the argmax class of every step (single), or the argmax key and
   the keys at or above 0.5 (multi), except where NumPy's own probabilities tie within TIE.

The network (Schemas/model.md; TensorFlow's CIFAR-10 model as the paper used it):
  input: centre crop of the S x S thumbnail to `inputSize` (offset (S - crop) // 2 on both axes),
         pixels / 255, then per-image standardisation (x - mean) / max(std, 1 / sqrt(n)), population std
  simple:   conv1 5x5x64 SAME + bias + ReLU, max pool 3x3/2 SAME, LRN, output dense
  original: conv1 + ReLU, max pool, LRN, conv2 5x5x64 SAME + ReLU, LRN, max pool,
            dense local3 384 + ReLU, dense local4 192 + ReLU, output dense
  convolution weights [filters, channels, kh, kw] (cross-correlation, zero padding 2);
  dense weights [outputs, inputs] (y = W x + b) over the NCHW activations flattened in C order;
  max pool SAME: output ceil(n / 2), total padding max(0, (out - 1) * 2 + 3 - n) split with the
  smaller half before, padded cells never win;
  LRN (TensorFlow's lrn, depth_radius 4, bias 1, alpha 0.001 / 9, beta 0.75):
  y_c = x_c / (1 + alpha * sum over |j - c| <= 4 of x_j^2) ^ 0.75.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, features
from safetensors import safe_open
from safetensors.numpy import load_file

from conftest import _binary, run_tool
from piano_thumbs.spec import axes, axis, pair, standardise, tensor_prefixes

# infer computes in float32 (sums of the standardisation and the softmax in float64), NumPy here
# in float64. Measured with the debug build: max |error| 5.9e-7 (simple, softmax) and 7.4e-7
# (original, sigmoid); a plain float32 NumPy forward (pairwise sums, OpenBLAS sgemm) is within
# 7e-7 of float64 too. (Before the standardisation summed in double, infer was 1.7e-5 off.)
# 5e-6 leaves ~7x headroom; the mistakes this is meant to catch move some probability by far
# more: TF padding placement in the max pool (0.9), a flipped kernel (>0.6), NHWC flattening
# (>0.9), crop offset rounded up (0.4), ddof=1 standard deviation (>1.8e-4), LRN alpha 0.001
# (>3e-3), LRN radius 3 or 5 (4e-3 on the original model; 4e-5..1.5e-4 on the simple one).
FORWARD_TOLERANCE = 5e-6
# Where NumPy's two best classes (or a key's probability and 0.5) are closer than this, infer may
# decide either way: each probability may be off by FORWARD_TOLERANCE.
TIE = 2 * FORWARD_TOLERANCE

LRN_RADIUS, LRN_BIAS, LRN_ALPHA, LRN_BETA = 4, 1.0, 0.001 / 9, 0.75


# ---------------------------------------------------------------------------------------------
# The forward pass in float64 NumPy


def conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride=(1, 1), padding="same") -> np.ndarray:
    """N x C x H x W -> N x F x OH x OW; cross-correlation with zero padding, weight F x C x kh x kw."""
    kh, kw = weight.shape[-2:]
    oh, py = axis(x.shape[2], kh, stride[0], axes(padding)[0])
    ow, px = axis(x.shape[3], kw, stride[1], axes(padding)[1])
    padded = np.pad(x, ((0, 0), (0, 0), py, px))
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, :: stride[0], :: stride[1]][:, :, :oh, :ow]
    out = np.einsum("nchwij,fcij->nfhw", windows, weight.astype(np.float64), optimize=True)
    return out + bias.astype(np.float64)[None, :, None, None]


def conv_same(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Stride 1, "same": zero padding (k - 1) / 2 for odd k."""
    return conv(x, weight, bias)


def max_pool(x: np.ndarray, window=(3, 3), stride=(2, 2), padding="same") -> np.ndarray:
    """Max pool; padded cells are -inf, so they never win."""
    oh, py = axis(x.shape[2], window[0], stride[0], axes(padding)[0])
    ow, px = axis(x.shape[3], window[1], stride[1], axes(padding)[1])
    padded = np.pad(x, ((0, 0), (0, 0), py, px), constant_values=-np.inf)
    windows = sliding_window_view(padded, window, axis=(2, 3))[:, :, :: stride[0], :: stride[1]][:, :, :oh, :ow]
    out = windows.max(axis=(4, 5))
    assert out.shape[2:] == (oh, ow)
    return out


def max_pool_same(x: np.ndarray, size: int = 3, stride: int = 2) -> np.ndarray:
    """TensorFlow's max pool with padding "SAME" (the paper's 3x3, stride 2)."""
    return max_pool(x, (size, size), (stride, stride))


def lrn(x: np.ndarray, radius=LRN_RADIUS, bias=LRN_BIAS, alpha=LRN_ALPHA, beta=LRN_BETA) -> np.ndarray:
    """Local response normalisation across channels (axis 1)."""
    squares = np.concatenate([np.zeros_like(x[:, :1]), np.cumsum(x * x, axis=1)], axis=1)
    channels = x.shape[1]
    c = np.arange(channels)
    lo, hi = np.maximum(0, c - radius), np.minimum(channels, c + radius + 1)
    window = squares[:, hi] - squares[:, lo]
    return x / (bias + alpha * window) ** beta


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """N x ... -> N x outputs, weight [outputs, inputs] (Dense.swift: Y = X W^T + b)."""
    flat = x.reshape(len(x), -1)  # C order: channel, row, column
    assert flat.shape[1] == weight.shape[1], f"dense input {flat.shape[1]} vs weight {weight.shape}"
    return flat @ weight.astype(np.float64).T + bias.astype(np.float64)


def relu(x):
    return np.maximum(x, 0)


def run_layers(x: np.ndarray, layers: list, tensors: dict, names: list) -> np.ndarray:
    """Applies spec layers (Schemas/network.md) in order; `names` gives each learnable layer's tensor prefix."""
    for layer, name in zip(layers, names):
        kind = layer["type"]
        if kind == "convolution":
            x = conv(x, tensors[name + ".weight"], tensors[name + ".bias"], pair(layer.get("stride", 1)), layer.get("padding", "same"))
        elif kind == "relu":
            x = relu(x)
        elif kind == "maxPool":
            window = pair(layer["window"])
            x = max_pool(x, window, pair(layer.get("stride", window)), layer.get("padding", "same"))
        elif kind == "lrn":
            x = lrn(x, layer.get("radius", LRN_RADIUS), layer.get("bias", LRN_BIAS), layer.get("alpha", LRN_ALPHA), layer.get("beta", LRN_BETA))
        elif kind == "dense":
            x = dense(x, tensors[name + ".weight"], tensors[name + ".bias"])[:, :, None, None]
        elif kind == "flatten":
            x = x.reshape(len(x), -1, 1, 1)
        elif kind == "flipRows":
            x = x[:, :, ::-1]
        elif kind == "rowShifts":
            # Channel c*S + i is channel c moved up by shifts[i] rows: out[r] = in[r + s], zero outside.
            n, c, h, w = x.shape
            shifted = np.zeros((n, c, len(layer["shifts"]), h, w), dtype=x.dtype)
            for i, shift in enumerate(layer["shifts"]):
                for r in range(h):
                    if 0 <= r + shift < h:
                        shifted[:, :, i, r] = x[:, :, r + shift]
            x = shifted.reshape(n, c * len(layer["shifts"]), h, w)
        else:
            raise AssertionError(f"unknown layer type {kind}")
    return x


def spec_logits(pixels: np.ndarray, tensors: dict, spec: dict, input_shape: list, chunk: int = 32) -> list:
    """Every head's logits (head order) of a spec'd network, its tensors named as
    `piano_thumbs.spec.tensor_prefixes` says (Schemas/model.md)."""
    channels, rows, columns = input_shape
    assert channels == 1
    heads = spec["heads"]
    trunk_names, head_names = tensor_prefixes(spec)
    results = [[] for _ in heads]
    for start in range(0, len(pixels), chunk):
        x = standardise(pixels[start : start + chunk], (rows, columns), spec.get("normalization"))
        features = run_layers(x, spec["layers"], tensors, trunk_names)
        for h, (head, (prefix, names)) in enumerate(zip(heads, head_names)):
            if names is None:
                out = dense(features, tensors[prefix + ".weight"], tensors[prefix + ".bias"])
            else:
                out = run_layers(features, head["layers"], tensors, names).reshape(len(features), -1)
            results[h].append(out)
    return [np.concatenate(r) for r in results]


def logits(pixels: np.ndarray, tensors: dict, architecture: str, crop: int, chunk: int = 32) -> np.ndarray:
    results = []
    for start in range(0, len(pixels), chunk):
        x = standardise(pixels[start : start + chunk], crop)
        x = lrn(max_pool_same(relu(conv_same(x, tensors["conv1.weight"], tensors["conv1.bias"]))))
        if architecture == "original":
            x = max_pool_same(lrn(relu(conv_same(x, tensors["conv2.weight"], tensors["conv2.bias"]))))
            x = relu(dense(x, tensors["local3.weight"], tensors["local3.bias"]))
            x = relu(dense(x, tensors["local4.weight"], tensors["local4.bias"]))
        else:
            assert architecture == "simple", architecture
        results.append(dense(x, tensors["output.weight"], tensors["output.bias"]))
    return np.concatenate(results)


def probabilities(z: np.ndarray, labels: str) -> np.ndarray:
    """Softmax for a `single` head, sigmoids for key heads (`frame`, `onset`; `multi` in version 1 models)."""
    if labels == "single":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    assert labels in ("multi", "frame", "onset"), labels
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


# ---------------------------------------------------------------------------------------------
# The building blocks against their definitions, written as plain loops (tiny shapes)


def test_numpy_layers_match_their_definitions():
    rng = np.random.default_rng(7)
    # Convolution: out[n, f, y, x] = b[f] + sum w[f, c, i, j] x[n, c, y + i - 2, x + j - 2] (zero outside).
    x, w, b = rng.normal(size=(2, 3, 6, 7)), rng.normal(size=(4, 3, 5, 5)), rng.normal(size=4)
    expected = np.zeros((2, 4, 6, 7))
    for n, f, y, xx in np.ndindex(*expected.shape):
        total = b[f]
        for c, i, j in np.ndindex(3, 5, 5):
            sy, sx = y + i - 2, xx + j - 2
            if 0 <= sy < 6 and 0 <= sx < 7:
                total += w[f, c, i, j] * x[n, c, sy, sx]
        expected[n, f, y, xx] = total
    np.testing.assert_allclose(conv_same(x, w, b), expected, rtol=1e-12, atol=1e-12)

    # Max pool 3/2 SAME on even and odd sizes: TensorFlow's padding (smaller half before).
    for h, wd in ((6, 7), (5, 8), (1, 2), (32, 25)):
        x = rng.normal(size=(1, 2, h, wd))
        oh, ow = -(-h // 2), -(-wd // 2)
        top, left = max(0, (oh - 1) * 2 + 3 - h) // 2, max(0, (ow - 1) * 2 + 3 - wd) // 2
        expected = np.empty((1, 2, oh, ow))
        for c, y, xx in np.ndindex(2, oh, ow):
            y0, x0 = y * 2 - top, xx * 2 - left
            cells = [x[0, c, i, j] for i in range(y0, y0 + 3) for j in range(x0, x0 + 3) if 0 <= i < h and 0 <= j < wd]
            expected[0, c, y, xx] = max(cells)
        np.testing.assert_array_equal(max_pool_same(x), expected)
    # All-negative inputs: a padded cell (-inf, not 0) never wins.
    assert (max_pool_same(-1 - rng.random(size=(1, 1, 4, 4))) < -1).all()

    # LRN: y_c = x_c / (1 + 0.001/9 * sum of x_j^2 over |j - c| <= 4) ^ 0.75, the window clipped at the ends.
    x = rng.normal(size=(2, 11, 3, 2)) * 5
    expected = np.empty_like(x)
    for n, c, y, xx in np.ndindex(*x.shape):
        s = sum(x[n, j, y, xx] ** 2 for j in range(max(0, c - 4), min(11, c + 5)))
        expected[n, c, y, xx] = x[n, c, y, xx] / (1 + 0.001 / 9 * s) ** 0.75
    np.testing.assert_allclose(lrn(x), expected, rtol=1e-12)

    # Per-image standardisation, the centre crop and a constant image (std 0 -> 1/sqrt(n)).
    pixels = rng.integers(0, 256, size=(2, 8, 8), dtype=np.uint8)
    pixels[1] = 77
    got = standardise(pixels, 5)
    crop = pixels[0, 1:6, 1:6] / 255
    np.testing.assert_allclose(got[0, 0], (crop - crop.mean()) / crop.std(), rtol=1e-12)
    np.testing.assert_array_equal(got[1, 0], np.zeros((5, 5)))

    # Dense: y = W x + b over the C-order flattening.
    x, w, b = rng.normal(size=(3, 2, 2, 2)), rng.normal(size=(5, 8)), rng.normal(size=5)
    expected = np.array([[b[o] + sum(w[o, (c * 2 + i) * 2 + j] * x[n, c, i, j] for c, i, j in np.ndindex(2, 2, 2)) for o in range(5)] for n in range(3)])
    np.testing.assert_allclose(dense(x, w, b), expected, rtol=1e-12)

    z = rng.normal(size=(4, 6)) * 30
    p = probabilities(z, "multi")
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), rtol=1e-12)
    s = probabilities(z, "single")
    np.testing.assert_allclose(s, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# The saved arrays of both models


@dataclass
class Case:
    name: str  # "simple/<stem>" or "original/<stem>"
    stem: str
    model: Path
    metadata: dict
    front_end: dict
    tensors: dict
    notemap: Path
    thumbnails: np.ndarray
    outputs: np.ndarray
    expected: np.ndarray = None  # NumPy's probabilities, float64

    @property
    def spec(self) -> dict:
        return json.loads(self.metadata["network"])

    @property
    def heads(self) -> list:
        """The head kinds, in order (outputs.npy holds their probabilities side by side)."""
        return [h["kind"] for h in self.spec["heads"]]

    @property
    def input(self) -> list:
        return json.loads(self.metadata["input"])

    def columns(self, kind: str) -> slice:
        """The columns of outputs.npy that hold head `kind`."""
        start = 0
        for k in self.heads:
            width = 128 if k == "single" else 88
            if k == kind:
                return slice(start, start + width)
            start += width
        raise KeyError(kind)


def half(n: int) -> int:
    """A max pool's output length: ceil(n / 2)."""
    return -(-n // 2)


EXPECTED_TENSORS = {  # Schemas/model.md, for K outputs and input size S
    "simple": lambda k, s: {
        "conv1.weight": (64, 1, 5, 5), "conv1.bias": (64,),
        "output.weight": (k, 64 * half(s) ** 2), "output.bias": (k,),
    },
    "original": lambda k, s: {
        "conv1.weight": (64, 1, 5, 5), "conv1.bias": (64,),
        "conv2.weight": (64, 64, 5, 5), "conv2.bias": (64,),
        "local3.weight": (384, 64 * half(half(s)) ** 2), "local3.bias": (384,),
        "local4.weight": (192, 384), "local4.bias": (192,),
        "output.weight": (k, 192), "output.bias": (k,),
    },
}


def load_cases(name: str, run) -> list:
    with safe_open(str(run.model), "np") as f:
        metadata = dict(f.metadata())
    tensors = load_file(str(run.model))
    front_end = json.loads(metadata["frontEnd"])
    cases = []
    for stem in run.stems:
        thumbnails = np.load(run.out / f"{stem}.thumbnails.npy")
        outputs = np.load(run.out / f"{stem}.outputs.npy")
        cases.append(Case(f"{name}/{stem}", stem, run.model, metadata, front_end, tensors, run.notemaps[stem], thumbnails, outputs))
    return cases


@pytest.fixture(scope="module")
def cases(end_to_end, end_to_end_original, end_to_end_spec, end_to_end_slide) -> dict:
    found = load_cases("simple", end_to_end) + load_cases("original", end_to_end_original) + load_cases("spec", end_to_end_spec)
    found += load_cases("sliding", end_to_end_slide.sliding) + load_cases("per-thumbnail", end_to_end_slide.thumbnails)
    assert [c.spec["name"] for c in found].count("simple") >= 1 and {c.spec["name"] for c in found} >= {"simple", "original"}
    for case in found:
        spec, shape = case.spec, case.input
        per_head = spec_logits(case.thumbnails, case.tensors, spec, shape)
        if spec["name"] in EXPECTED_TENSORS:
            # The spec interpreter agrees with the paper's networks written out by hand.
            assert shape[1] == shape[2]
            by_hand = logits(case.thumbnails, case.tensors, spec["name"], shape[1])
            np.testing.assert_allclose(per_head[0], by_hand, rtol=1e-7, atol=1e-7)  # einsum paths differ in summation order
        case.expected = np.concatenate([probabilities(z, kind) for z, kind in zip(per_head, case.heads)], axis=1)
    return {c.name: c for c in found}


def test_saved_arrays_are_the_documented_shapes(cases):
    for case in cases.values():
        m, geometry = case.metadata, case.front_end["geometry"]
        rows, columns = geometry.get("rows", geometry.get("size")), geometry.get("columns", geometry.get("size"))
        k = sum(128 if kind == "single" else 88 for kind in case.heads)
        steps = json.loads(case.notemap.read_text())["steps"]
        channels, crop_rows, crop_columns = case.input
        assert channels == 1 and crop_rows <= rows and crop_columns <= columns
        shapes = {name: tuple(t.shape) for name, t in case.tensors.items()}
        if case.spec["name"] in EXPECTED_TENSORS:
            assert shapes == EXPECTED_TENSORS[case.spec["name"]](k, crop_rows), f"{case.model}: tensors {shapes}"
        assert all(t.dtype == np.float32 for t in case.tensors.values())
        assert case.thumbnails.dtype == np.uint8 and case.thumbnails.shape == (steps, rows, columns), (
            f"{case.name}: thumbnails.npy {case.thumbnails.dtype} {case.thumbnails.shape}, expected uint8 {(steps, rows, columns)}"
        )
        assert case.outputs.dtype == np.float32 and case.outputs.shape == (steps, k), (
            f"{case.name}: outputs.npy {case.outputs.dtype} {case.outputs.shape}, expected float32 {(steps, k)}"
        )
        assert np.isfinite(case.outputs).all() and (case.outputs >= 0).all() and (case.outputs <= 1).all()
        if "single" in case.heads:
            sums = case.outputs[:, case.columns("single")].astype(np.float64).sum(axis=1)
            assert np.abs(sums - 1).max() < 1e-5, f"{case.name}: softmax rows sum to {sums.min()}..{sums.max()}"
        # Not a degenerate case: the inputs vary and some outputs are neither 0 nor 1.
        assert case.thumbnails.std() > 5, f"{case.name}: near-constant thumbnails"
        assert ((case.outputs > 1e-3) & (case.outputs < 0.999)).any(), f"{case.name}: all outputs saturated"
        assert case.outputs.std(axis=0).max() > 0.01, f"{case.name}: the outputs hardly depend on the input"


def test_numpy_forward_matches_infer(cases):
    report, failures = [], []
    for case in cases.values():
        error = np.abs(case.outputs.astype(np.float64) - case.expected)
        worst = np.unravel_index(error.argmax(), error.shape)
        report.append(
            f"{case.name} ({case.spec['name']}, heads {'+'.join(case.heads)}, input {case.input}): "
            f"max |error| {error.max():.3g} at step {worst[0]} output {worst[1]} "
            f"(infer {case.outputs[worst]:.9g}, numpy {case.expected[worst]:.9g}); mean {error.mean():.3g}"
        )
        if not error.max() <= FORWARD_TOLERANCE:
            failures.append(f"{case.name}: {int((error > FORWARD_TOLERANCE).sum())} outputs off by more than {FORWARD_TOLERANCE}")
    print("\n".join(report))
    assert not failures, "\n".join(failures + report)


def thumbnail_size(geometry: dict) -> str:
    """spectro's --size for a front end's geometry: ROWSxCOLS, or one number when square."""
    rows, columns = geometry.get("rows", geometry.get("size")), geometry.get("columns", geometry.get("size"))
    return str(rows) if rows == columns else f"{rows}x{columns}"


@pytest.fixture(scope="module")
def spectro_thumbs(cases, tmp_path_factory) -> dict:
    """spectro run on the note map of every recording in `cases`, with each model's front end: (front end JSON, stem) -> folder."""
    by_front_end = {}
    for case in cases.values():
        by_front_end.setdefault(json.dumps(case.front_end, sort_keys=True), {})[case.stem] = case.notemap
    folders = {}
    for i, (key, notemaps) in enumerate(sorted(by_front_end.items())):
        fe = json.loads(key)
        t = fe["transform"]
        for stem, notemap in notemaps.items():
            hop = json.loads(notemap.read_text())["hop"]
            assert hop == t["hop"], f"{notemap}: hop {hop}, the model's front end has {t['hop']}"
        out = tmp_path_factory.mktemp(f"forward-thumbs{i}")
        run_tool(
            [_binary("spectro"), *notemaps.values(), "-o", out, "--transform", t["transform"],
             "--bins-per-octave", t["binsPerOctave"], "--size", thumbnail_size(fe["geometry"]),
             "--context", fe["geometry"]["context"], "--quality", fe["quality"], "--jobs", "2"],
            "spectro on the held-out recordings",
        )
        for stem in notemaps:
            folders[key, stem] = out / stem
    return folders


def test_thumbnails_are_spectros_jpegs(cases, spectro_thumbs):
    """thumbnails.npy == spectro's JPEGs decoded by Pillow, every byte; if not, say how far off. (A sliding
    evaluation sees the pixels before JPEG: test_sliding_differs_from_thumbnails_by_jpeg_only.)"""
    decoder = f"Pillow {Image.__version__}, libjpeg-turbo {features.version_feature('libjpeg_turbo')} (used: {features.check_feature('libjpeg_turbo')})"
    problems = []
    for case in (c for n, c in cases.items() if not n.startswith("sliding/")):
        folder = spectro_thumbs[json.dumps(case.front_end, sort_keys=True), case.stem]
        sidecar = json.loads((folder / "thumbs.json").read_text())
        for field in ("transform", "decibels", "geometry", "quality"):
            assert sidecar[field] == case.front_end[field], f"{folder}: {field} {sidecar[field]} vs the model's {case.front_end[field]}"
        assert sidecar["every"] == 1 and sidecar["images"] == sidecar["steps"] == len(case.thumbnails), (
            f"{folder}: {sidecar['images']} images of {sidecar['steps']} steps, thumbnails.npy has {len(case.thumbnails)}"
        )
        rows = (folder / "labels.tsv").read_text().splitlines()[1:]
        names = [row.split("\t")[2] for row in rows]
        assert names == [f"{k:0{sidecar['digits']}d}.jpg" for k in range(sidecar["images"])], f"{folder}/labels.tsv: file names"
        decoded = []
        for name in names:
            with Image.open(folder / name) as image:
                assert image.format == "JPEG" and image.mode == "L", f"{folder / name}: {image.format} {image.mode}"
                decoded.append(np.asarray(image))
        decoded = np.stack(decoded)
        if decoded.shape != case.thumbnails.shape:
            problems.append(f"{case.name}: spectro's JPEGs {decoded.shape}, thumbnails.npy {case.thumbnails.shape}")
            continue
        diff = np.abs(decoded.astype(int) - case.thumbnails.astype(int))
        if diff.any():
            steps = np.nonzero(diff.reshape(len(diff), -1).any(axis=1))[0]
            problems.append(
                f"{case.name}: {int((diff > 0).sum())} of {diff.size} pixels differ (max {diff.max()}) "
                f"in {len(steps)} of {len(diff)} steps, first {steps[:10].tolist()}"
            )
    assert not problems, f"decoded with {decoder}:\n" + "\n".join(problems)


# infer's default multi-label threshold (NoteDecoder).
THRESHOLD = 0.8


def test_predicted_classes_agree(cases):
    problems = []
    for case, kind in ((c, k) for c in cases.values() for k in c.heads):
        got, expected = case.outputs.astype(np.float64)[:, case.columns(kind)], case.expected[:, case.columns(kind)]
        top = np.sort(expected, axis=1)
        tied = top[:, -1] - top[:, -2] <= TIE
        differ = np.nonzero((got.argmax(axis=1) != expected.argmax(axis=1)) & ~tied)[0]
        if differ.size:
            problems.append(f"{case.name} {kind}: argmax differs at steps {differ[:10].tolist()} ({differ.size} of {len(got)})")
        if kind != "single":
            # The keys infer's decoder keeps at its default threshold.
            on, on_expected = got >= THRESHOLD, expected >= THRESHOLD
            disagree = (on != on_expected) & (np.abs(expected - THRESHOLD) > TIE)
            if disagree.any():
                problems.append(f"{case.name}: keys above {THRESHOLD} differ at {np.argwhere(disagree)[:10].tolist()}")
    assert not problems, "\n".join(problems)


def test_sliding_differs_from_thumbnails_by_jpeg_only(cases):
    """`infer --evaluation sliding` and `--evaluation thumbnails` with one model (networks/piano88-slide.json,
    briefly trained): each matches the NumPy forward pass of the pixels it saved (test_numpy_forward_matches_infer);
    the pixels differ only by the JPEG round trip the thumbnails take (a few grey levels), and so do the outputs."""
    sliding = {c.stem: c for n, c in cases.items() if n.startswith("sliding/")}
    thumbnails = {c.stem: c for n, c in cases.items() if n.startswith("per-thumbnail/")}
    assert sliding and sliding.keys() == thumbnails.keys()
    for stem, slid in sliding.items():
        each = thumbnails[stem]
        assert slid.thumbnails.shape == each.thumbnails.shape and slid.outputs.shape == each.outputs.shape
        difference = np.abs(slid.thumbnails.astype(np.int16) - each.thumbnails.astype(np.int16))
        assert difference.mean() < 2.0 and np.percentile(difference, 99) <= 12, (stem, difference.mean(), np.percentile(difference, 99))
        # The JPEG round trip's whole effect on the probabilities.
        jpeg_effect = np.abs(slid.outputs - each.outputs)
        assert jpeg_effect.mean() < 0.02, (stem, jpeg_effect.mean())

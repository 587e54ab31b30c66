"""Training and inference throughput of any network spec (Schemas/network.md): ours (bench-train
--arch SPEC) beside PyTorch on CPU with the same layers, heads, batch and threads, on random
inputs of the given rows x columns; PyTorch in channels-last memory format (its fast CPU
configuration for convolutions). Each figure is the median of --repeats runs of --steps steps.
Run through bench/train-spec.sh: BIN_DIR SPEC ROWS COLUMNS THREADS [STEPS] [REPEATS]."""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

bin_dir, spec_path, rows, columns, threads = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
steps = int(sys.argv[6]) if len(sys.argv) > 6 else 10
repeats = int(sys.argv[7]) if len(sys.argv) > 7 else 3
batch = 128
torch.set_num_threads(threads)
spec = json.loads(Path(spec_path).read_text())


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def same(n, k, s):
    out = -(-n // s)
    total = max(0, (out - 1) * s + k - n)
    return total // 2, total - total // 2


class Spec(nn.Module):
    """The spec's trunk and heads as PyTorch layers (the recipe of Schemas/network.md)."""

    def __init__(self, spec, shape):
        super().__init__()
        self.plan, self.convs, self.denses = [], nn.ModuleList(), nn.ModuleList()
        shape = self._build(spec["layers"], shape, self.plan)
        self.heads = []
        for head in spec["heads"]:
            plan = []
            layers = head.get("layers") or [{"type": "dense", "units": 128 if head["kind"] == "single" else 88}]
            self._build(layers, shape, plan)
            self.heads.append((head["kind"], plan))

    def _build(self, layers, shape, plan):
        c, h, w = shape
        for layer in layers:
            t = layer["type"]
            if t in ("convolution", "maxPool"):
                k = pair(layer["kernel"] if t == "convolution" else layer["window"])
                s = pair(layer.get("stride", 1 if t == "convolution" else k))
                pad = (0, 0, 0, 0)
                if layer.get("padding", "same") == "same":
                    (pt, pb), (pl, pr) = same(h, k[0], s[0]), same(w, k[1], s[1])
                    pad = (pl, pr, pt, pb)
                h, w = (h + pad[2] + pad[3] - k[0]) // s[0] + 1, (w + pad[0] + pad[1] - k[1]) // s[1] + 1
                if t == "convolution":
                    self.convs.append(nn.Conv2d(c, layer["filters"], k, s))
                    c = layer["filters"]
                    plan.append(("conv", len(self.convs) - 1, pad))
                else:
                    plan.append(("pool", (k, s), pad))
            elif t == "relu":
                plan.append(("relu",))
            elif t == "lrn":
                r = layer.get("radius", 4)
                plan.append(("lrn", nn.LocalResponseNorm(2 * r + 1, alpha=layer.get("alpha", 0.001 / 9) * (2 * r + 1),
                                                         beta=layer.get("beta", 0.75), k=layer.get("bias", 1.0))))
            elif t == "dense":
                self.denses.append(nn.Linear(c * h * w, layer["units"]))
                plan.append(("dense", len(self.denses) - 1))
                c, h, w = layer["units"], 1, 1
            elif t == "flipRows":
                plan.append(("flip",))
            elif t == "flatten":
                plan.append(("flatten",))
                c, h, w = c * h * w, 1, 1
        return c, h, w

    def _run(self, x, plan):
        for step in plan:
            if step[0] == "conv":
                if any(step[2]):
                    x = F.pad(x, step[2])
                x = self.convs[step[1]](x)
            elif step[0] == "pool":
                if any(step[2]):
                    x = F.pad(x, step[2], value=float("-inf"))
                x = F.max_pool2d(x, *step[1])
            elif step[0] == "relu":
                x = F.relu(x)
            elif step[0] == "lrn":
                x = step[1](x)
            elif step[0] == "dense":
                x = self.denses[step[1]](x.flatten(1))[:, :, None, None]
            elif step[0] == "flip":
                x = x.flip(2)
            elif step[0] == "flatten":
                x = x.flatten(1)[:, :, None, None]
        return x

    def forward(self, x):
        features = self._run(x, self.plan)
        return [self._run(features, plan).flatten(1) for _, plan in self.heads]


def torch_rates():
    model = Spec(spec, (1, rows, columns)).to(memory_format=torch.channels_last)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=0.0005)
    x = torch.randn(batch, 1, rows, columns).to(memory_format=torch.channels_last)
    targets = [torch.randint(0, 128, (batch,)) if kind == "single" else (torch.rand(batch, 88) < 0.1).float() for kind, _ in model.heads]

    def loss(outputs):
        return sum(F.cross_entropy(z, t) if kind == "single" else F.binary_cross_entropy_with_logits(z, t, reduction="sum") / batch
                   for (kind, _), z, t in zip(model.heads, outputs, targets))

    def step():
        optimiser.zero_grad()
        loss(model(x)).backward()
        optimiser.step()

    step()
    trains, infers = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        trains.append(steps * batch / (time.perf_counter() - start))
        with torch.no_grad():
            model(x)
            start = time.perf_counter()
            for _ in range(steps):
                model(x)
            infers.append(steps * batch / (time.perf_counter() - start))
    return statistics.median(trains), statistics.median(infers)


def our_rates():
    trains, infers = [], []
    for _ in range(repeats):
        out = subprocess.run([bin_dir / "bench-train", "--arch", spec_path, "--rows", str(rows), "--columns", str(columns),
                              "--threads", str(threads), "--steps", str(steps)], check=True, capture_output=True, text=True).stdout.split()
        trains.append(float(out[1]))
        infers.append(float(out[3]))
    return statistics.median(trains), statistics.median(infers)


ours_train, ours_infer = our_rates()
torch_train, torch_infer = torch_rates()
print(f"spec {spec['name']} ({spec_path}), random {rows}x{columns} inputs, batch {batch}, {threads} thread(s), "
      f"median of {repeats} x {steps} steps; images/s")
print(f"{'':<8}{'ours':>10}{'torch':>10}{'ratio':>8}")
print(f"{'train':<8}{ours_train:>10.0f}{torch_train:>10.0f}{ours_train / torch_train:>7.2f}x")
print(f"{'infer':<8}{ours_infer:>10.0f}{torch_infer:>10.0f}{ours_infer / torch_infer:>7.2f}x")

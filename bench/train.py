"""Training and inference throughput: ours (bench-train) beside PyTorch on CPU, the same network
from the same initial weights, the same batch, threads and random data shape.

Run through bench/train.sh: BIN_DIR THREADS STEPS REPEATS.

Each network is written by `bench-train --model-out` and read into PyTorch by piano_thumbs
(python/), so the layers, padding and pooling are the ones our network computes (checked here:
the two forward passes agree before timing). PyTorch runs in two configurations:
  plain  NCHW tensors, F.local_response_norm;
  fast   channels-last tensors (oneDNN's preferred layout) and LRN as one matrix product over
         channels (a band matrix), the configuration the ratios are taken against.
Each figure is the median of REPEATS timings of STEPS steps after a warm-up step; images/s."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
from piano_thumbs import load_model  # noqa: E402
from piano_thumbs.model import PianoNetwork  # noqa: E402

bin_dir, threads = Path(sys.argv[1]), int(sys.argv[2])
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 30
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
torch.set_num_threads(threads)
batch = 128
root = Path(__file__).resolve().parent.parent
NETWORKS = [("simple", "simple", 32, 32), ("original", "original", 32, 32),
            ("piano88-deep2", str(root / "networks/piano88-deep2.json"), 88, 16)]


class FastNetwork(PianoNetwork):
    """LRN as (x^2 over channels) @ band: one GEMM on channels-last data instead of avg_pool3d."""

    def lrn(self, x, p):
        channels = x.shape[1]
        index = torch.arange(channels)
        band = ((index[:, None] - index[None, :]).abs() <= p["radius"]).to(x.dtype)
        sums = (x * x).permute(0, 2, 3, 1) @ band  # N x H x W x C
        scale = (p["bias"] + p["alpha"] * sums).pow(-p["beta"]).permute(0, 3, 1, 2)
        return x * scale


def median_rate(run) -> float:
    run()  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            run()
        rates.append(steps * batch / (time.perf_counter() - start))
    return statistics.median(rates)


def torch_rates(model, kinds, positive_weights, shape, channels_last):
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(batch, 1, *shape, generator=generator) * 2 - 1
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    targets = []
    for kind, weight in zip(kinds, positive_weights):
        if kind == "single":
            targets.append((kind, torch.randint(0, 128, (batch,), generator=generator), None))
        else:
            keys = (torch.randint(0, 10, (batch, 88), generator=generator) == 0).float()
            targets.append((kind, keys, torch.tensor(weight)))
    model.train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=0.0005)

    def train_step():
        optimiser.zero_grad()
        loss = 0
        for z, (kind, y, weight) in zip(model(x), targets):
            if kind == "single":
                loss = loss + F.cross_entropy(z, y)
            else:
                loss = loss + F.binary_cross_entropy_with_logits(z.reshape(batch, -1)[:, :88], y, pos_weight=weight)
        loss.backward()
        optimiser.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    return median_rate(train_step), median_rate(infer_step)


def ours(arch, rows, columns, *extra):
    out = subprocess.run([bin_dir / "bench-train", "--arch", arch, "--rows", str(rows), "--columns", str(columns),
                          "--threads", str(threads), *extra], check=True, capture_output=True, text=True).stdout.split()
    return out


def ours_rates(arch, rows, columns):
    train, infer = [], []
    for _ in range(repeats):
        out = ours(arch, rows, columns, "--steps", str(steps))
        train.append(float(out[1]))
        infer.append(float(out[3]))
    return statistics.median(train), statistics.median(infer)


print(f"batch {batch}, {threads} thread(s), median of {repeats} x {steps} steps after a warm-up; images/s; "
      f"torch {torch.__version__}; ratios against PyTorch's fast configuration")
print(f"{'network':<14}{'input':>7} | {'ours':>6}{'fast':>7}{'plain':>7}{'ratio':>7} | {'ours':>6}{'fast':>7}{'plain':>7}{'ratio':>7} | "
      f"{'GFLOP/s':>8}{'peak':>6}")
print(f"{'':<14}{'':>7} | {'train':^27} | {'infer':^27} |")
with tempfile.TemporaryDirectory() as scratch:
    for name, arch, rows, columns in NETWORKS:
        model_path = os.path.join(scratch, name + ".safetensors")
        peak = ours(arch, rows, columns, "--peak", "--model-out", model_path)
        flops, sgemm = int(peak[1]), float(peak[3])
        plain = load_model(model_path)
        fast = FastNetwork(plain.spec, plain.input_shape, {k.replace("/", "."): v.detach() for k, v in plain.weights.items()})
        # Same network on both sides: the fast and plain forward passes agree (fp32 rounding).
        probe = torch.rand(4, 1, rows, columns, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            for a, b in zip(plain(probe), fast(probe)):
                assert np.allclose(a.numpy(), b.numpy(), atol=1e-4, rtol=1e-4), name
        kinds = plain.heads
        weights = [h.get("positiveWeight", 1.0) for h in plain.spec["heads"]]
        our_train, our_infer = ours_rates(arch, rows, columns)
        fast_train, fast_infer = torch_rates(fast, kinds, weights, (rows, columns), channels_last=True)
        plain_train, plain_infer = torch_rates(plain, kinds, weights, (rows, columns), channels_last=False)
        # Training costs about three forward passes (forward, input and weight gradients).
        achieved = 3 * flops * our_train / 1e9
        print(f"{name:<14}{f'{rows}x{columns}':>7} | {our_train:>6.0f}{fast_train:>7.0f}{plain_train:>7.0f}{our_train / fast_train:>6.2f}x | "
              f"{our_infer:>6.0f}{fast_infer:>7.0f}{plain_infer:>7.0f}{our_infer / fast_infer:>6.2f}x | "
              f"{achieved:>8.1f}{achieved / sgemm:>6.0%}", flush=True)
print("GFLOP/s: our training at 3 x forward FLOPs per image; peak: its share of OpenBLAS sgemm's peak at these threads "
      f"(bench-train --peak)")

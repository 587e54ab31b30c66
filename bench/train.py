"""Training and inference throughput of the paper's networks: ours (bench-train) beside PyTorch
on CPU with the same architecture, batch 128 and thread count, on random 32x32 inputs.
Run through bench/train.sh: BIN_DIR THREADS."""

import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

bin_dir, threads = Path(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
batch, size, steps = 128, 32, 10


def network(arch):
    # Same layers as Sources/PianoKit/Network/Network.swift. PyTorch's LRN divides alpha by the
    # window size (9), TensorFlow's does not, hence alpha * 9; max-pool padding 1 matches
    # TensorFlow's SAME padding in cost.
    lrn = lambda: nn.LocalResponseNorm(9, alpha=0.001 / 9 * 9, beta=0.75, k=1.0)
    layers = [nn.Conv2d(1, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), lrn()]
    if arch == "original":
        layers += [nn.Conv2d(64, 64, 5, padding=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2, padding=1),
                   nn.Flatten(), nn.Linear(64 * 8 * 8, 384), nn.ReLU(), nn.Linear(384, 192), nn.ReLU(), nn.Linear(192, 128)]
    else:
        layers += [nn.Flatten(), nn.Linear(64 * 16 * 16, 128)]
    return nn.Sequential(*layers)


def torch_rates(arch):
    model = network(arch)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=0.0005)
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 128, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimiser.zero_grad()
        loss_fn(model(x), y).backward()
        optimiser.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    train = steps * batch / (time.perf_counter() - start)
    with torch.no_grad():
        model(x)
        start = time.perf_counter()
        for _ in range(steps):
            model(x)
        infer = steps * batch / (time.perf_counter() - start)
    return train, infer


print(f"random {size}x{size} inputs, batch {batch}, {threads} thread(s), {steps} steps after a warm-up; images/s")
print(f"{'network':<10}{'ours train':>12}{'torch train':>13}{'ratio':>8}{'ours infer':>12}{'torch infer':>13}{'ratio':>8}")
for arch in ("simple", "original"):
    out = subprocess.run([bin_dir / "bench-train", "--arch", arch, "--threads", str(threads), "--steps", str(steps)],
                         check=True, capture_output=True, text=True).stdout.split()
    ours_train, ours_infer = float(out[1]), float(out[3])
    torch_train, torch_infer = torch_rates(arch)
    print(f"{arch:<10}{ours_train:>12.0f}{torch_train:>13.0f}{ours_train / torch_train:>7.2f}x"
          f"{ours_infer:>12.0f}{torch_infer:>13.0f}{ours_infer / torch_infer:>7.2f}x")

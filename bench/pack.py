"""pack against numpy.savez_compressed on the same arrays, and the streaming reader's peak memory
on a 1M-example archive. Run through bench/pack.sh: BIN_DIR THUMBS_DIR WORK_DIR."""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

bin_dir, thumbs, work = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
repeats = 7


def seconds(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


archive = work / "demo.npz"
seconds([bin_dir / "pack", thumbs, "-o", archive])  # warm-up: the thumbnails in the page cache
with np.load(archive, allow_pickle=False) as data:
    arrays = {name: data[name] for name in data.files if name != "manifest.json"}
examples = sum(len(arrays[f"{s}_labels"]) for s in ("train", "valid", "test"))
raw = sum(a.nbytes for a in arrays.values())

# pack and numpy alternate, so that a slow spell of a shared machine falls on both; both flush
# their archive to disk (pack fsyncs it), else one's unflushed pages would slow the other's flush.
pack_times, numpy_times = [], []
for _ in range(repeats):
    pack_times.append(seconds([bin_dir / "pack", thumbs, "-o", archive]))
    start = time.perf_counter()
    with open(work / "numpy.npz", "wb") as file:  # flushed to disk as pack flushes its archive
        np.savez_compressed(file, **arrays)
        file.flush()
        os.fsync(file.fileno())
    numpy_times.append(time.perf_counter() - start)
pack_seconds, numpy_seconds = statistics.median(pack_times), statistics.median(numpy_times)
numpy_size = os.path.getsize(work / "numpy.npz")

rewrite = subprocess.run([bin_dir / "bench-archive", "rewrite", archive, "--output", work / "rewrite.npz",
                          "--repeats", str(repeats)], check=True, capture_output=True, text=True).stdout.split()
writer_seconds, writer_size = float(rewrite[0]), int(rewrite[1])

print(f"demo corpus: {examples} examples, {raw / 1e6:.1f} MB of arrays; medians of {repeats} runs (pack and numpy alternating)")
print(f"{'':<44}{'seconds':>9}{'MB':>9}{'vs numpy':>10}")
print(f"{'numpy.savez_compressed (arrays in memory)':<44}{numpy_seconds:>9.3f}{numpy_size / 1e6:>9.3f}{'1.00x':>10}")
print(f"{'our zip writer (same arrays in memory)':<44}{writer_seconds:>9.3f}{writer_size / 1e6:>9.3f}{numpy_seconds / writer_seconds:>9.2f}x")
print(f"{'pack (reads and decodes every JPEG too)':<44}{pack_seconds:>9.3f}{os.path.getsize(archive) / 1e6:>9.3f}{numpy_seconds / pack_seconds:>9.2f}x")
print(f"size: ours {os.path.getsize(archive)} bytes (with manifest.json) vs numpy {numpy_size} bytes")

big = work / "big.npz"
count = 1_000_000
start = time.perf_counter()
subprocess.run([bin_dir / "bench-archive", "synthesize", archive, "--examples", str(count), "-o", big], check=True)
print(f"\n1M-example archive: {os.path.getsize(big) / 1e6:.0f} MB on disk, {count * 1024 / 1e9:.2f} GB of pixels, written in {time.perf_counter() - start:.1f} s")
result = subprocess.run(["/usr/bin/time", "-f", "%M %e", bin_dir / "bench-archive", "stream", big],
                        check=True, capture_output=True, text=True)
peak_kb, seconds = result.stderr.strip().splitlines()[-1].split()
print(f"streaming reader, chunks of 4096: {result.stdout.strip()} in {float(seconds):.1f} s, peak RSS {int(peak_kb) / 1024:.0f} MiB")

"""Times the CQT alone against librosa.cqt on the same 60-second file, and the whole spectro
stage (JPEG files included) in audio-seconds per wall-second. Run through bench/cqt.sh."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import librosa
import numpy as np

bin_dir, corpus = Path(sys.argv[1]), Path(sys.argv[2])
repeats = 7
work = Path(tempfile.mkdtemp(prefix="bench-cqt-"))

# A 60-second recording: the corpus's MUS pieces end to end.
pieces = sorted(corpus.glob("*/MUS/*.wav"))
chunks = []
for path in pieces:
    with wave.open(str(path)) as w:
        chunks.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2))
audio = np.concatenate(chunks * (1 + 60 * 44100 // sum(len(c) for c in chunks)))[: 60 * 44100]
(work / "in").mkdir()
with wave.open(str(work / "in" / "bench60.wav"), "wb") as w:
    w.setnchannels(2), w.setsampwidth(2), w.setframerate(44100), w.writeframes(audio.tobytes())
(work / "in" / "bench60.txt").write_text("OnsetTime\tOffsetTime\tMidiPitch\n0.5\t1.0\t60\n")
y = audio.astype(np.float32).mean(axis=1) / 32768

print(f"60 s of audio at 44.1 kHz, hop 512; medians of {repeats} runs after a warm-up")
print(f"{'transform':<28}{'librosa ms':>12}{'ours 1 thr':>12}{'ours 2 thr':>12}{'x (1 thr)':>11}{'x (2 thr)':>11}")
for bpo in (12, 36):
    n_bins = 88 * bpo // 12
    librosa.cqt(y[:44100], sr=44100, hop_length=512, fmin=27.5, n_bins=n_bins, bins_per_octave=bpo)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        librosa.cqt(y, sr=44100, hop_length=512, fmin=27.5, n_bins=n_bins, bins_per_octave=bpo)
        times.append((time.perf_counter() - start) * 1000)
    theirs = statistics.median(times)
    ours = []
    for threads in (1, 2):
        out = subprocess.run([bin_dir / "bench-cqt", work / "in" / "bench60.wav", "--bins-per-octave", str(bpo),
                              "--threads", str(threads), "--repeats", str(repeats)], capture_output=True, text=True, check=True)
        ours.append(float(out.stdout.strip().splitlines()[-1]))
    print(f"{f'CQT {n_bins} bins, {bpo}/octave':<28}{theirs:>12.1f}{ours[0]:>12.1f}{ours[1]:>12.1f}{theirs / ours[0]:>10.1f}x{theirs / ours[1]:>10.1f}x")

subprocess.run([bin_dir / "ingest", work / "in", "-o", work / "maps"], check=True, capture_output=True)
print()
shm = Path("/dev/shm")
targets = [("disk", work)] + ([("tmpfs", Path(tempfile.mkdtemp(dir=shm)))] if shm.is_dir() else [])
print(f"{'spectro stage (60 s file)':<36}" + "".join(f"{name + ' wall s':>14}{'x real time':>12}" for name, _ in targets))
for transform, bpo in (("cqt", 36), ("cqt", 12), ("stft", 36)):
    for jobs in (1, 2):
        line = ""
        for _, base in targets:
            walls = []
            for run in range(5):
                # A new folder each run, the old ones deleted only at the end: ext4 does not reuse an
                # inode freed in the last minute or so, and after deleting 5,000 files its allocator
                # spends up to 1.5 s of kernel time stepping over them (perf: find_inode_bit ->
                # recently_deleted) -- a cost of deleting right before, not of writing.
                target = base / f"thumbs-{transform}{bpo}-{jobs}-{run}"
                os.sync()  # writing back earlier runs' files is not timed
                start = time.perf_counter()
                subprocess.run([bin_dir / "spectro", work / "maps", "-o", target, "--jobs", str(jobs),
                                "--transform", transform, "--bins-per-octave", str(bpo)], check=True, capture_output=True)
                walls.append(time.perf_counter() - start)
            wall = statistics.median(walls)
            line += f"{wall:>14.2f}{60 / wall:>11.0f}x"
        images = json.loads((target.parent / f"thumbs-{transform}{bpo}-{jobs}-0" / "bench60" / "thumbs.json").read_text())["images"]
        print(f"{f'{transform} {bpo}/oct, {images} JPEGs, {jobs} job(s)':<36}{line}")

# The floor the disk sets: creating as many small files in a fresh folder, doing nothing else.
floors = []
for run in range(5):
    folder = work / f"floor-{run}"
    os.sync()
    folder.mkdir()
    start = time.perf_counter()
    for k in range(images):
        fd = os.open(folder / f"{k:06d}.jpg", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"x" * 700)
        os.close(fd)
    floors.append(time.perf_counter() - start)
print(f"creating {images} 700-byte files alone on the disk: {statistics.median(floors):.2f} s (median of 5)")
for _, base in targets:  # the disk one is `work`: the 60 s file, its note map and every run's output
    shutil.rmtree(base, ignore_errors=True)

"""Times the CQT alone against librosa.cqt on the same 60-second file, and the whole spectro
stage (JPEG files included) in audio-seconds per wall-second. Run through bench/cqt.sh."""

import json
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
print(f"{'spectro stage (60 s file)':<36}{'wall s':>8}{'x real time':>13}")
for transform, bpo in (("cqt", 36), ("cqt", 12), ("stft", 36)):
    for jobs in (1, 2):
        walls = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([bin_dir / "spectro", work / "maps", "-o", work / "thumbs", "--force", "--jobs", str(jobs),
                            "--transform", transform, "--bins-per-octave", str(bpo)], check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
        wall = statistics.median(walls)
        images = json.loads((work / "thumbs" / "bench60" / "thumbs.json").read_text())["images"]
        print(f"{f'{transform} {bpo}/oct, {images} JPEGs, {jobs} thread(s)':<36}{wall:>8.2f}{60 / wall:>12.0f}x")

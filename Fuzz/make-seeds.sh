#!/usr/bin/env bash
# Rebuilds Fuzz/seeds/ from a demo run's real files (kept in git; run again only to refresh them).
#
# Usage: Fuzz/make-seeds.sh [RUN_DIR] [PACK_BINARY]
#   RUN_DIR      a demo run holding corpus/ (MAPS layout), thumbs/ and model.safetensors
#                (default /tmp/run1, as the README's demo leaves it)
#   PACK_BINARY  the pack executable (default .build/release/pack)
# Needs python3 with numpy and soundfile (the repo's .venv has both; used if present).
#
# Every seed is a real file or a cut-down copy of one, kept small so that libFuzzer's inputs
# stay small and fast: wavs keep their header and 1024 frames, thumbnail folders 6
# thumbnails (packed into a tiny archive by the real pack), the model its trained
# first layer with an output layer cut down to a 4x4 (and 2x2) input.
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-/tmp/run1}
pack=${2:-.build/release/pack}
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python
seeds=Fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{FuzzMIDI,FuzzMAPS,FuzzWav,FuzzArchive,FuzzManifest,FuzzSafeTensors,FuzzJPEG}

# JPEG: two real thumbnails as spectro writes them (an isolated note and a busy RAND chord).
cp "$run/thumbs/MAPS_ISOL_NO_M_S1_M56_FR3Brght/000075.jpg" "$seeds/FuzzJPEG/thumb-isol.jpg"
cp "$(ls -S "$run"/thumbs/MAPS_RAND_P4_M21-108_I32-96_S0_n1_FR3Grand/[0-9]*.jpg | head -1)" "$seeds/FuzzJPEG/thumb-rand.jpg"

# MIDI and MAPS txt: whole real files, format 0 and 1, with and without pedal, plus infer's output.
stems=(
  FR3Brght/MUS/MAPS_MUS-arpeggios_02_FR3Brght
  FR3Grand/ISOL/NO/MAPS_ISOL_NO_M_S1_M24_FR3Grand
  FR3Brght/UCHO/I32-96/C0-4-7/MAPS_UCHO_C0-4-7_I32-96_S0_n1_FR3Brght
  FR3Brght/RAND/M21-108/I32-96/P7/MAPS_RAND_P7_M21-108_I32-96_S0_n1_FR3Brght
)
for stem in "${stems[@]}"; do
  cp "$run/corpus/$stem.mid" "$seeds/FuzzMIDI/"
  cp "$run/corpus/$stem.txt" "$seeds/FuzzMAPS/"
done
cp "$run/infer/MAPS_MUS-chords_04_FR3Brght.mid" "$seeds/FuzzMIDI/infer-MAPS_MUS-chords_04_FR3Brght.mid"
cp "$run/infer/MAPS_MUS-chords_04_FR3Brght.txt" "$seeds/FuzzMAPS/infer-MAPS_MUS-chords_04_FR3Brght.txt"

# MIDI the reader tolerates with a warning (and refuses with strict): system common and real-time
# messages inside a track, running status across a meta event; two tracks of one channel handing
# a key over at one tick.
"$python" - "$seeds/FuzzMIDI" <<'PY'
import struct, sys
def smf(fmt, *bodies):
    out = b"MThd" + struct.pack(">IHHH", 6, fmt, len(bodies), 480)
    for body in bodies:
        body = bytes(body) + b"\x00\xff\x2f\x00"
        out += b"MTrk" + struct.pack(">I", len(body)) + body
    return out
open(f"{sys.argv[1]}/tolerated-system-messages.mid", "wb").write(smf(0, [
    0, 0xF2, 0, 0, 0, 0xF3, 1, 0, 0xF1, 0x31, 0, 0xF6, 0, 0x90, 60, 100, 0, 0xF8, 0x83, 0x60, 0xFE,
    0, 60, 0, 0, 0xFA, 0, 62, 90, 0, 0xFB, 0x83, 0x60, 0xFC, 0, 62, 0]))
open(f"{sys.argv[1]}/tolerated-running-status-across-meta.mid", "wb").write(smf(0, [
    0, 0x90, 60, 100, 0x83, 0x60, 0xFF, 0x01, 0x02, 0x68, 0x69, 0, 60, 0, 0, 62, 90, 0x83, 0x60, 62, 0]))
open(f"{sys.argv[1]}/two-hands-one-channel.mid", "wb").write(smf(1,
    [0x83, 0x60, 0x90, 60, 100, 0x83, 0x60, 0x80, 60, 64],
    [0, 0x90, 60, 90, 0x83, 0x60, 0x80, 60, 64]))
PY

# Audio: a real recording cut to 1024 frames as 16-bit wav, the same with a data length that lies
# (the original's), and FLAC, AIFF, Ogg Vorbis, Opus (48 kHz), mp3 and 22.05 kHz wav copies
# (libsndfile opens every format it knows).
"$python" - "$run/corpus/FR3Brght/ISOL/NO/MAPS_ISOL_NO_F_S0_M60_FR3Brght.wav" "$seeds/FuzzWav" <<'PY'
import struct, sys, wave
import soundfile
source, out = sys.argv[1], sys.argv[2]
with wave.open(source) as w:
    params, total = w.getparams(), w.getnframes()
    w.setpos(w.getnframes() // 4)  # where the note sounds
    frames = w.readframes(1024)
with wave.open(f"{out}/isol-1024-frames.wav", "wb") as w:
    w.setparams(params)
    w.writeframes(frames)
data = bytearray(open(f"{out}/isol-1024-frames.wav", "rb").read())
assert data[36:40] == b"data"
struct.pack_into("<I", data, 40, total * params.sampwidth * params.nchannels)
open(f"{out}/isol-lying-data-length.wav", "wb").write(bytes(data))
samples, rate = soundfile.read(f"{out}/isol-1024-frames.wav", dtype="int16")
soundfile.write(f"{out}/isol-1024-frames.flac", samples, rate, subtype="PCM_16")
soundfile.write(f"{out}/isol-256-frames-mono.aiff", samples[:256].mean(axis=1).astype("int16"), rate, subtype="PCM_16")
# Lossy formats and other rates, which the stages resample (soundfile's libsndfile has the encoders).
soundfile.write(f"{out}/isol-1024-frames.ogg", samples, rate, subtype="VORBIS")
soundfile.write(f"{out}/isol-1024-frames.mp3", samples, rate, format="MP3")
soundfile.write(f"{out}/isol-1024-frames-48k.opus", samples, 48000, format="OGG", subtype="OPUS")
soundfile.write(f"{out}/isol-1024-frames-22k.wav", samples, 22050, subtype="PCM_16")
PY

# Archive: three real thumbnail folders cut to 6 thumbnails (steps 24-29, where the notes sound,
# renumbered 0-5), packed 1:1:1 by the real pack.
folders=$(mktemp -d)
trap 'rm -rf "$folders"' EXIT
"$python" - "$run/thumbs" "$folders" <<'PY'
import json, os, shutil, sys
source, out = sys.argv[1], sys.argv[2]
first, count = 24, 6
for stem in ["MAPS_ISOL_NO_F_S0_M70_FR3Brght", "MAPS_UCHO_C0-4-7_I32-96_S0_n1_FR3Brght", "MAPS_MUS-chords_04_FR3Grand"]:
    os.makedirs(f"{out}/{stem}")
    thumbs = json.load(open(f"{source}/{stem}/thumbs.json"))
    thumbs["steps"] = thumbs["images"] = count
    json.dump(thumbs, open(f"{out}/{stem}/thumbs.json", "w"), indent=2, sort_keys=True)
    lines = open(f"{source}/{stem}/labels.tsv").read().splitlines()
    rows = [lines[0]]
    for k in range(count):
        step, time, name, label, notes = lines[1 + first + k].split("\t")
        new = f"{k:06d}.jpg"
        shutil.copy(f"{source}/{stem}/{name}", f"{out}/{stem}/{new}")
        rows.append("\t".join([str(k), f"{k * thumbs['transform']['hop'] / thumbs['transform']['sampleRate']:.6f}", new, label, notes]))
    open(f"{out}/{stem}/labels.tsv", "w").write("\n".join(rows) + "\n")
PY
"$pack" create "$folders" --split 1:1:1 --level 9 --jobs 1 -o "$seeds/FuzzArchive/tiny-3x6.npz" > /dev/null
# The same with zip64 records (pack's hidden --force-zip64), so the zip64 paths have a seed too.
"$pack" create "$folders" --split 1:1:1 --level 9 --jobs 1 --force-zip64 -o "$seeds/FuzzArchive/tiny-3x6-zip64.npz" > /dev/null
"$python" - "$seeds/FuzzArchive/tiny-3x6.npz" "$seeds/FuzzManifest" <<'PY'
import sys, zipfile
archive, out = sys.argv[1], sys.argv[2]
open(f"{out}/tiny-3x6.manifest.json", "wb").write(zipfile.ZipFile(archive).read("manifest.json"))
PY

# Model: the demo's trained simple network cut down to 4x4 and 2x2 inputs (the output layer keeps
# the first 64 x 2 x 2 or 64 inputs of each row), metadata as trained but for the input size.
"$python" - "$run/model.safetensors" "$seeds/FuzzSafeTensors" <<'PY'
import json, struct, sys
import numpy as np
source, out = sys.argv[1], sys.argv[2]
raw = open(source, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
def tensor(name):
    t = header[name]
    begin, end = t["data_offsets"]
    return np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<f4").reshape(t["shape"])
metadata = header["__metadata__"]
assert metadata["architecture"] == "simple"
for size in (4, 2):
    pooled = (size + 1) // 2
    tensors = {"conv1.bias": tensor("conv1.bias"), "conv1.weight": tensor("conv1.weight"),
               "output.bias": tensor("output.bias"), "output.weight": tensor("output.weight")[:, :64 * pooled * pooled]}
    meta = dict(metadata, inputSize=str(size))
    front = json.loads(meta["frontEnd"]); front["geometry"]["size"] = size; meta["frontEnd"] = json.dumps(front, sort_keys=True, separators=(",", ":"))
    entries, offset, body = {"__metadata__": meta}, 0, b""
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        entries[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data); body += data
    text = json.dumps(entries, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(f"{out}/simple-{metadata['labels']}-{size}x{size}.safetensors", "wb").write(struct.pack("<Q", len(text)) + text + body)
PY
du -sh "$seeds"; find "$seeds" -type f | sort

#!/usr/bin/env bash
# What one `ingest` run costs when it adds one recording to a folder that already holds N note
# maps (the GNU parallel recipe: every job rewrites index.json), against adding it to an empty
# folder. Prints wall seconds and peak memory (max RSS) of each run.
#
# Usage: bash bench/index.sh [N] [BIN_DIR]
#   N        note maps already in the folder (default 1000)
#   BIN_DIR  folder holding the ingest to time (default: swift build -c release's)
#
# The folder is made from one real note map: ingest reads a 60-second silent wav at 44.1 kHz
# with a 600-note MAPS txt (a 5,168-step map of about 0.3 MB, the size of a corpus MUS piece's),
# and N copies of it with other stems are written beside it (only the wav header is read by
# ingest, so the copies need no audio). Then, each timed once:
#   empty     ingest of one new recording into an empty folder;
#   first     the same into the folder of N (an index from this version not yet there: the run
#             that upgrades a folder, or any run of a version that rebuilds the index whole);
#   again     a second new recording into that folder (the index now knows the N maps).
# Needs python3 and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
bin=${2:-}
if [ -z "$bin" ]; then
    swift build -c release --product ingest >/dev/null
    bin="$(swift build -c release --show-bin-path)"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import random, sys, wave
work = sys.argv[1]
rng = random.Random(1)
def recording(folder, stem, seconds=60.0, notes=600):
    import os
    os.makedirs(folder, exist_ok=True)
    with wave.open(f"{folder}/{stem}.wav", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(44100)
        w.writeframes(b"\0\0" * int(seconds * 44100))
    lines = ["OnsetTime\tOffsetTime\tMidiPitch"]
    for _ in range(notes):
        onset = rng.uniform(0, seconds - 2)
        lines.append(f"{onset:.6f}\t{onset + rng.uniform(0.1, 2):.6f}\t{rng.randint(21, 108)}")
    open(f"{folder}/{stem}.txt", "w").write("\n".join(lines) + "\n")
recording(f"{work}/seed", "seed")
recording(f"{work}/new1", "new_one")
recording(f"{work}/new2", "new_two")
PY

measure() {  # label, then the command; prints "label: S s, M MB max RSS"
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" 2>"$work/stderr" >/dev/null || { cat "$work/stderr"; exit 1; }
    read -r seconds kb <"$work/time"
    printf '%-8s %7.2f s %7.1f MB max RSS   (%s)\n' "$label:" "$seconds" "$(echo "$kb / 1024" | bc -l)" "$(tail -1 "$work/stderr")"
}

"$bin/ingest" "$work/seed" -o "$work/seedmaps" --jobs 1 2>/dev/null
python3 - "$work" "$n" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
text = open(f"{work}/seedmaps/seed.notemap.json").read()
assert text.count('"stem": "seed"') == 1 or text.count('"stem":"seed"') == 1, "stem field not found"
import os
os.makedirs(f"{work}/full", exist_ok=True)
for i in range(n):
    stem = f"copy_{i:05d}"
    open(f"{work}/full/{stem}.notemap.json", "w").write(text.replace('"stem": "seed"', f'"stem": "{stem}"').replace('"stem":"seed"', f'"stem":"{stem}"'))
PY
size=$(du -sm "$work/full" | cut -f1)
echo "ingest at $bin: one 60 s recording (600 notes) into a folder of $n note maps ($size MB)"
measure empty "$bin/ingest" "$work/new1" -o "$work/empty" --jobs 1
measure first "$bin/ingest" "$work/new1" -o "$work/full" --jobs 1
measure again "$bin/ingest" "$work/new2" -o "$work/full" --jobs 1
python3 - "$work/full/index.json" "$n" <<'PY'
import json, sys
index = json.load(open(sys.argv[1]))
assert len(index["recordings"]) == int(sys.argv[2]) + 2, len(index["recordings"])
print(f"index.json: version {index['version']}, {len(index['recordings'])} recordings")
PY

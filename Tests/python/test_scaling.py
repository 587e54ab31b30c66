"""The README's "Scaling to a large tree" recipe, run: GNU parallel fans ingest and spectro out
over slices of a small corpus (3 recordings a job, 4 jobs at a time, one thread each), a final
ingest pass writes the complete index, then pack; every note map, the index, every thumbnail
folder and the archive must equal a single run's byte for byte. Both runs sit at the same depth,
so the relative paths the outputs record are the same."""

import shutil
import subprocess
import time

import pytest

from conftest import _binary, run_tool

RECORDINGS = 12  # the shortest of each category, then a few pieces
SLICE, JOBS = 3, 4


def files_of(folder):
    """Relative path -> bytes of every file under `folder` but hidden ones (caches, temporaries)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


@pytest.fixture(scope="module")
def wavs(corpus):
    chosen = []
    for category in ("ISOL", "RAND", "UCHO", "MUS"):
        found = sorted((p for p in corpus.root.rglob("*.wav") if f"/{category}/" in str(p)), key=lambda p: (p.stat().st_size, p.name))
        chosen += found[: RECORDINGS // 4]
    assert len(chosen) == RECORDINGS
    return chosen


def test_parallel_slices_equal_one_run(wavs, tmp_path):
    parallel = shutil.which("parallel")
    assert parallel, "GNU parallel is not installed (scripts/install-deps.sh installs it)"
    ingest, spectro, pack = (str(_binary(n)) for n in ("ingest", "spectro", "pack"))

    started = time.monotonic()
    one, sliced = tmp_path / "one", tmp_path / "sliced"
    run_tool([ingest, *wavs, "-o", one / "notemaps"], "ingest (one run)")
    run_tool([spectro, one / "notemaps", "-o", one / "thumbs"], "spectro (one run)")
    run_tool([pack, one / "thumbs", "-o", one / "data.npz"], "pack (one run)")

    def fan_out(inputs, command):
        result = subprocess.run([parallel, "--will-cite", "-N", str(SLICE), "-j", str(JOBS), *command],
                                input="\n".join(map(str, inputs)) + "\n", capture_output=True, text=True)
        assert result.returncode == 0, f"parallel {' '.join(command)} failed:\n{result.stderr[-3000:]}"
        return result

    fan_out(wavs, [ingest, "{}", "-o", str(sliced / "notemaps"), "--jobs", "1"])
    run_tool([ingest, *wavs, "-o", sliced / "notemaps"], "ingest (final pass: the complete index)")
    fan_out(sorted((sliced / "notemaps").glob("*.notemap.json")), [spectro, "{}", "-o", str(sliced / "thumbs"), "--jobs", "1"])
    run_tool([pack, sliced / "thumbs", "-o", sliced / "data.npz"], "pack (sliced)")

    for part in ("notemaps", "thumbs"):
        a, b = files_of(one / part), files_of(sliced / part)
        assert sorted(a) == sorted(b), f"{part}: different files {sorted(set(a) ^ set(b))[:10]}"
        differ = [name for name in a if a[name] != b[name]]
        assert not differ, f"{part}: {len(differ)} files differ, first {differ[:10]}"
    assert (one / "data.npz").read_bytes() == (sliced / "data.npz").read_bytes(), "the archives differ"
    thumbnails = sum(name.endswith(".jpg") for name in files_of(one / "thumbs"))
    print(f"\n{RECORDINGS} recordings in slices of {SLICE}, {JOBS} jobs at a time: {len(files_of(one / 'notemaps'))} note-map files, "
          f"{thumbnails} thumbnails and the archive byte-identical to one run ({time.monotonic() - started:.0f} s)")

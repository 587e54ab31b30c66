"""Every file the tools wrote validates against its JSON Schema in Schemas/."""

import copy
import json
import math
import zipfile
from pathlib import Path

import jsonschema
import pytest

from conftest import SCHEMAS, SPECTRO_RUNS, _binary, run_tool

KINDS = ("pedal", "nopedal")


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator, instance, what: str):
    return [
        f"{what}: at /{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
        for error in validator.iter_errors(instance)
    ]


def check(problems: list):
    if problems:
        pytest.fail(f"{len(problems)} problems:\n" + "\n".join(problems[:25]), pytrace=False)


@pytest.mark.parametrize("name", ["notemap.schema.json", "notemap-index.schema.json", "corpus.schema.json", "thumbs.schema.json",
                                  "archive-manifest.schema.json", "metrics.schema.json",
                                  "network.schema.json"])
def test_schema_is_valid_draft_2020_12(name):
    schema = json.loads((SCHEMAS / name).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_corpus_manifest(corpus):
    manifest = json.loads((corpus.root / "corpus.json").read_text())
    check(errors(validator("corpus.schema.json"), manifest, "corpus.json"))
    assert manifest["recordings"] == len(corpus.recordings())


@pytest.mark.parametrize("kind", KINDS)
def test_notemaps(kind, corpus):
    v = validator("notemap.schema.json")
    paths = sorted(corpus.notemaps[kind].glob("*.notemap.json"))
    assert len(paths) == len(corpus.recordings())
    problems = []
    for path in paths:
        problems += errors(v, json.loads(path.read_text()), path.name)
    check(problems)


@pytest.mark.parametrize("kind", KINDS)
def test_index(kind, corpus):
    folder = corpus.notemaps[kind]
    index = json.loads((folder / "index.json").read_text())
    check(errors(validator("notemap-index.schema.json"), index, f"{kind}/index.json"))
    files = sorted(p.name for p in folder.glob("*.notemap.json"))
    assert [entry["file"] for entry in index["recordings"]] == files
    for entry in index["recordings"]:
        notemap = json.loads((folder / entry["file"]).read_text())
        audio = notemap["audio"]
        assert entry["stem"] == notemap["stem"]
        assert entry["category"] == notemap["maps"]["category"]
        assert entry.get("instrument") == notemap["maps"].get("instrument")
        assert (entry["hop"], entry["steps"], entry["notes"]) == (notemap["hop"], notemap["steps"], len(notemap["notes"]))
        assert entry["duration"] == pytest.approx(audio["frames"] / audio["sampleRate"], abs=1e-9)


def test_schemas_reject_wrong_format_and_version(corpus):
    """The schemas pin format and version, as readers must."""
    v = validator("notemap.schema.json")
    path = next(corpus.notemaps["pedal"].glob("*.notemap.json"))
    notemap = json.loads(path.read_text())
    assert v.is_valid(notemap)
    assert not v.is_valid({**notemap, "format": "something-else"})
    assert not v.is_valid({**notemap, "version": 3})
    assert notemap["version"] == 2 and notemap["sampleRate"] == 44100
    assert not v.is_valid({k: x for k, x in notemap.items() if k != "sampleRate"})  # version 2 needs it
    assert not v.is_valid({**notemap, "version": 1})  # version 1 has none
    assert v.is_valid({**{k: x for k, x in notemap.items() if k != "sampleRate"}, "version": 1})
    assert not v.is_valid({**notemap, "extra": 1})
    assert not v.is_valid({**notemap, "labels": {**notemap["labels"], "single": [5]}})
    index = json.loads((corpus.notemaps["pedal"] / "index.json").read_text())
    assert not validator("notemap-index.schema.json").is_valid({**index, "version": 2})
    manifest = json.loads((corpus.root / "corpus.json").read_text())
    cv = validator("corpus.schema.json")
    assert not cv.is_valid({**manifest, "format": "piano-notemap"})
    incomplete = {k: v for k, v in manifest.items() if k != "recordings"}
    assert cv.is_valid({**incomplete, "complete": False})
    assert not cv.is_valid({**incomplete, "complete": True})


@pytest.mark.parametrize("run", list(SPECTRO_RUNS))
def test_thumbs_sidecars(run, spectro_runs):
    """Every thumbs.json spectro wrote validates, and obeys the rules the schema cannot state."""
    v = validator("thumbs.schema.json")
    problems = []
    for stem in spectro_runs.stems:
        path = spectro_runs.folder(run, stem) / "thumbs.json"
        sidecar = json.loads(path.read_text())
        problems += errors(v, sidecar, f"{run}/{stem}/thumbs.json")
        transform = sidecar["transform"]
        if sidecar["images"] != math.ceil(sidecar["steps"] / sidecar["every"]):
            problems.append(f"{path}: images {sidecar['images']} != ceil(steps / every)")
        if sidecar["digits"] != max(6, len(str(sidecar["steps"] - 1))):
            problems.append(f"{path}: digits {sidecar['digits']}")
        if transform["transform"] == "cqt" and transform["bins"] != 88 * transform["binsPerOctave"] // 12:
            problems.append(f"{path}: {transform['bins']} CQT bins at {transform['binsPerOctave']} per octave")
        if transform["transform"] == "stft":
            first = transform["fmin"] * transform["fftSize"] / transform["sampleRate"]
            if abs(first - round(first)) > 1e-9:
                problems.append(f"{path}: STFT fmin {transform['fmin']} is not an FFT bin")
    check(problems)


def test_thumbs_schema_rejects(spectro_runs):
    """The thumbs schema pins format and version, refuses unknown fields and mismatched transforms."""
    v = validator("thumbs.schema.json")
    stem = spectro_runs.stems[0]
    cqt = spectro_runs.sidecar("cqt36", stem)
    stft = spectro_runs.sidecar("stft", stem)
    assert v.is_valid(cqt) and v.is_valid(stft)
    assert not v.is_valid({**cqt, "format": "piano-notemap"})
    assert not v.is_valid({**cqt, "version": 1})
    assert not v.is_valid({**cqt, "extra": 1})
    assert not v.is_valid({**cqt, "geometry": {"size": 32, "context": 16}})
    assert not v.is_valid({k: x for k, x in cqt.items() if k != "digits"})
    assert not v.is_valid({**cqt, "quality": 0})
    assert not v.is_valid({**cqt, "quality": 101})
    assert not v.is_valid({**cqt, "every": 0})
    assert not v.is_valid({**cqt, "digits": 5})
    assert not v.is_valid({**cqt, "spectrogram": "yes"})
    assert not v.is_valid({**cqt, "geometry": {**cqt["geometry"], "extra": 1}})
    assert not v.is_valid({**cqt, "decibels": {"range": 0, "referenceFloor": 1e-4}})
    assert not v.is_valid({**cqt, "transform": {**cqt["transform"], "transform": "mel"}})
    assert not v.is_valid({**cqt, "transform": {**cqt["transform"], "binsPerOctave": 30}})
    assert not v.is_valid({**cqt, "transform": {**cqt["transform"], "fftSize": 4096}})
    assert not v.is_valid({**cqt, "transform": {**cqt["transform"], "fmin": 30.0}})
    assert not v.is_valid({**stft, "transform": {k: x for k, x in stft["transform"].items() if k != "fftSize"}})
    assert not v.is_valid({**cqt, "maps": {**cqt["maps"], "category": "ELSE"}})


# pack runs over the spectro_runs folders, by name: (spectro run, extra pack arguments).
PACK_RUNS = {
    "default": ("cqt36", []),
    "stft": ("stft", ["--split", "2:1:1"]),
    "step": ("every4", ["--split-by", "step", "--seed", "9"]),
    "shards": ("every4", ["--shard-size", "40", "--split", "1:1:1"]),
    "zip64": ("geometry", ["--force-zip64"]),
    "offsets": ("cqt36", ["--offsets"]),
}


@pytest.fixture(scope="module")
def archive_manifests(spectro_runs, tmp_path_factory) -> dict:
    """{"<pack run>/<archive file>": manifest.json read out of the zip} for every archive of PACK_RUNS."""
    out = tmp_path_factory.mktemp("archives")
    manifests = {}
    for name, (run, extra) in PACK_RUNS.items():
        # The corpus is small: some splits may come out empty, which the schema allows.
        run_tool([_binary("pack"), spectro_runs.outputs[run], "-o", out / name / "data.npz", *extra, "--allow-empty-splits"],
                 f"pack {' '.join(extra)}")
        for path in sorted((out / name).glob("*.npz")):
            with zipfile.ZipFile(path) as z:
                assert z.infolist()[-1].filename == "manifest.json", f"{path}: manifest.json is not the last member"
                manifests[f"{name}/{path.name}"] = json.loads(z.read("manifest.json"))
    instruments = sorted({spectro_runs.sidecar("cqt36", stem)["maps"].get("instrument") or "" for stem in spectro_runs.stems} - {""})
    if instruments:
        path = out / "instrument" / "data.npz"
        run_tool([_binary("pack"), spectro_runs.outputs["cqt36"], "-o", path, "--test-instruments", instruments[0], "--allow-empty-splits"],
                 "pack --test-instruments")
        with zipfile.ZipFile(path) as z:
            manifests[f"instrument/{path.name}"] = json.loads(z.read("manifest.json"))
    return manifests


def test_archive_manifests(archive_manifests):
    """Every manifest pack wrote validates, and obeys the rules the schema cannot state."""
    v = validator("archive-manifest.schema.json")
    assert sum(name.startswith("shards/") for name in archive_manifests) > 1
    problems = []
    for name, manifest in archive_manifests.items():
        problems += errors(v, manifest, name)
        geometry = manifest["frontEnd"]["geometry"]
        members = {m["name"]: m for m in manifest["members"]}
        keyTargets = [t + "s" for t in manifest["labels"]["targets"] if t in ("onset", "offset")]
        for split, contents in manifest["splits"].items():
            count = contents["count"]
            if sum(contents["classHistogram"]) != count:
                problems.append(f"{name}: {split} class histogram does not add up to {count}")
            for kind, shape in (("images", [count, geometry["rows"], geometry["columns"]]), ("labels", [count]), ("notes", [count, 88]),
                                ("source", [count, 2])) + tuple((kind, [count, 88]) for kind in keyTargets):
                if members[f"{split}_{kind}.npy"]["shape"] != shape:
                    problems.append(f"{name}: {split}_{kind}.npy has shape {members[f'{split}_{kind}.npy']['shape']}, expected {shape}")
            if any(r >= len(manifest["recordings"]) for r in contents["recordings"]):
                problems.append(f"{name}: {split} names unlisted recordings")
        if [r["id"] for r in manifest["recordings"]] != list(range(len(manifest["recordings"]))):
            problems.append(f"{name}: recording ids are not their positions")
        shard = manifest["shard"]
        if "size" in shard and shard["firstExample"] != shard["index"] * shard["size"]:
            problems.append(f"{name}: firstExample {shard['firstExample']} != index x size")
    check(problems)


def test_archive_schema_rejects(archive_manifests):
    """The manifest schema pins format and version, refuses unknown fields and inconsistent split records."""
    v = validator("archive-manifest.schema.json")
    manifest = archive_manifests["default/data.npz"]
    step = archive_manifests["step/data.npz"]
    shard = next(m for name, m in archive_manifests.items() if name.startswith("shards/"))
    assert v.is_valid(manifest) and v.is_valid(step) and v.is_valid(shard)
    assert v.is_valid(archive_manifests["stft/data.npz"])

    def changed(base, edit):
        copied = copy.deepcopy(base)
        edit(copied)
        return copied

    assert not v.is_valid({**manifest, "format": "piano-thumbs"})
    assert not v.is_valid({**manifest, "version": 1})
    assert not v.is_valid({**manifest, "extra": 1})
    assert not v.is_valid(changed(manifest, lambda m: m["labels"].update(targets=["single", "onset"])))
    assert not v.is_valid(changed(manifest, lambda m: m["split"].update(shuffleBlock=0)))
    assert not v.is_valid(changed(manifest, lambda m: m["members"].pop(4)))  # train_onsets.npy
    offsets = archive_manifests["offsets/data.npz"]
    assert v.is_valid(offsets) and offsets["labels"]["targets"] == ["single", "frame", "onset", "offset"]
    assert not v.is_valid(changed(offsets, lambda m: m["members"].pop(5)))  # train_offsets.npy
    assert not v.is_valid(changed(manifest, lambda m: m["labels"].update(targets=["single", "frame", "offset"])))
    assert not v.is_valid(changed(manifest, lambda m: m["frontEnd"].update(geometry={"size": 32, "context": 16})))
    assert not v.is_valid({k: x for k, x in manifest.items() if k != "members"})
    assert not v.is_valid(changed(manifest, lambda m: m["split"].update(leaks=True)))
    assert not v.is_valid(changed(step, lambda m: m["split"].update(leaks=False)))
    assert not v.is_valid(changed(manifest, lambda m: m["split"].update(by="frames")))
    assert not v.is_valid(changed(manifest, lambda m: m["split"].update(ratios=[8, 1])))
    assert not v.is_valid(changed(manifest, lambda m: m["split"].update(ratios=[0, 0, 0])))
    assert not v.is_valid(changed(manifest, lambda m: m["split"].update(seed=-1)))
    assert not v.is_valid(changed(manifest, lambda m: m["split"].update(by="instrument")))  # no testInstruments
    assert not v.is_valid(changed(manifest, lambda m: m["recordings"][0].pop("split")))
    assert not v.is_valid(changed(step, lambda m: m["recordings"][0].update(split="train")))
    assert not v.is_valid(changed(manifest, lambda m: m["recordings"][0].update(split="holdout")))
    assert not v.is_valid(changed(manifest, lambda m: m["recordings"][0].update(examples=0)))
    assert not v.is_valid(changed(manifest, lambda m: m["shard"].update(count=2)))  # sharded without a size
    assert not v.is_valid(changed(shard, lambda m: m["shard"].pop("firstExample")))
    assert not v.is_valid(changed(manifest, lambda m: m["splits"].update(holdout=m["splits"]["test"])))
    assert not v.is_valid(changed(manifest, lambda m: m["splits"]["train"]["classHistogram"].pop()))
    assert not v.is_valid(changed(manifest, lambda m: m["splits"]["train"].update(count=-1)))
    assert not v.is_valid(changed(manifest, lambda m: m["labels"].update(classes=88)))
    assert not v.is_valid(changed(manifest, lambda m: m["members"].pop()))
    assert not v.is_valid(changed(manifest, lambda m: m["members"].reverse()))
    assert not v.is_valid(changed(manifest, lambda m: m["members"].append(m["members"][0])))
    assert not v.is_valid(changed(manifest, lambda m: m["members"][0].update(sha256=m["members"][0]["sha256"].upper())))
    assert not v.is_valid(changed(manifest, lambda m: m["members"][0].update(sha256=m["members"][0]["sha256"][:-1])))
    assert not v.is_valid(changed(manifest, lambda m: m["members"][3].update(dtype="<i8")))
    assert not v.is_valid(changed(manifest, lambda m: m["members"][2].update(shape=[m["members"][2]["shape"][0], 87])))
    assert not v.is_valid(changed(manifest, lambda m: m["members"][0].update(extra=1)))
    assert not v.is_valid(changed(manifest, lambda m: m["frontEnd"]["transform"].update(fftSize=4096)))
    assert not v.is_valid(changed(manifest, lambda m: m["frontEnd"].update(quality=0)))


def test_infer_metrics_files(end_to_end):
    """Every <stem>.metrics.json infer wrote, and each entry of summary.json, validates against metrics.schema.json."""
    v = validator("metrics.schema.json")
    files = sorted(end_to_end.out.glob("*.metrics.json"))
    assert len(files) == len(end_to_end.references) > 0
    for path in files:
        check(errors(v, json.loads(path.read_text()), path.name))
    summary = json.loads((end_to_end.out / "summary.json").read_text())
    for entry in summary["files"]:
        check(errors(v, entry, f"summary.json:{entry['stem']}"))
    assert not v.is_valid({**json.loads(files[0].read_text()), "version": 2})
    assert not v.is_valid({**json.loads(files[0].read_text()), "stepAccuracy": 1.5})


def test_network_specs_in_model_files(end_to_end, end_to_end_original, end_to_end_spec):
    """The spec each model file carries (the paper's two, and a spec file's) validates against network.schema.json."""
    from safetensors import safe_open

    from conftest import SPEC

    v = validator("network.schema.json")
    names = []
    for run in (end_to_end, end_to_end_original, end_to_end_spec):
        with safe_open(str(run.model), "np") as f:
            spec = json.loads(f.metadata()["network"])
        check(errors(v, spec, f"{run.model}: network"))
        names.append(spec["name"])
    assert names == ["simple", "original", "test-spec"]
    check(errors(v, SPEC, "conftest SPEC"))
    assert not v.is_valid({**SPEC, "version": 2})
    assert not v.is_valid({**SPEC, "layers": [{"type": "dropout"}]})
    assert not v.is_valid({**SPEC, "layers": [{"type": "convolution", "filters": 4, "kernel": [1, 2, 3]}]})
    assert not v.is_valid({**SPEC, "layers": [{"type": "relu", "size": 2}]})
    assert not v.is_valid({**SPEC, "heads": [{"kind": "pedal"}]})
    assert not v.is_valid({**SPEC, "heads": []})
    # The specs shipped in networks/ (the bundled model's among them).
    for path in sorted((Path(__file__).resolve().parents[2] / "networks").glob("*.json")):
        check(errors(v, json.loads(path.read_text()), str(path)))
    assert not v.is_valid({**SPEC, "layers": [{"type": "maxPool", "window": 2, "padding": ["same"]}]})
    assert not v.is_valid({**SPEC, "normalization": {"mean": 0.25, "std": 0}})

"""Every file the tools wrote validates against its JSON Schema in Schemas/."""

import json
import math

import jsonschema
import pytest

from conftest import SCHEMAS, SPECTRO_RUNS

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


@pytest.mark.parametrize("name", ["notemap.schema.json", "notemap-index.schema.json", "corpus.schema.json", "thumbs.schema.json"])
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
    assert not v.is_valid({**notemap, "version": 2})
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
    assert not v.is_valid({**cqt, "version": 2})
    assert not v.is_valid({**cqt, "extra": 1})
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

"""The temporal stage (`train-stage`, `infer --single-label`) against a NumPy reading of its
definition (TemporalStage.swift's doc comment): features from infer's own saved arrays (the frame
and onset heads' columns of <stem>.outputs.npy; the key rows of the centre column of
<stem>.thumbnails.npy, which in sliding evaluation are the strip's pixels), the perceptron from the
model file's tensors via the safetensors package, then the single-label reading and its step accuracy.
"""
import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from conftest import _binary, run_tool

WINDOW, MEMORY, HIDDEN = 6, 40, 8


@dataclass
class StageRun:
    base: Path  # the model without a stage
    model: Path  # with the stage
    out: Path  # infer --single-label --save-arrays
    stems: list
    references: dict  # stem -> reference .txt
    train_output: str  # stdout and stderr


@pytest.fixture(scope="module")
def stage_run(end_to_end_slide, corpus, tmp_path_factory) -> StageRun:
    """A stage trained for 2 epochs on a few isolated notes of one piano (every key a candidate:
    the 30-step model's frame outputs are low), its threshold chosen on another piano's, then
    `infer --single-label --save-arrays` on end_to_end_original's recordings."""
    work = tmp_path_factory.mktemp("stage")
    isol = sorted(corpus.root.glob("*/ISOL/**/*.wav"))
    train = [p for p in isol if p.stem.endswith("FR3Grand")][::12][:6]
    dev = [p for p in isol if p.stem.endswith("FR3Brght")][::15][:3]
    assert len(train) >= 3 and len(dev) >= 2, f"too few isolated notes in {corpus.root}"
    base = end_to_end_slide.sliding.model
    model = work / "stage.safetensors"
    trained = run_tool([_binary("train-stage"), base, "--train", *train, "--dev", *dev, "-o", model, "--window", WINDOW,
                        "--memory", MEMORY, "--hidden", HIDDEN, "--candidate-floor", "0", "--epochs", "2", "--batch", "64",
                        "--jobs", "2"], "train-stage")
    out = work / "out"
    wavs = end_to_end_slide.sliding.wavs
    run_tool([_binary("infer"), *wavs.values(), "--model", model, "-o", out, "--jobs", "2", "--single-label", "--save-arrays"],
             "infer --single-label")
    references = {stem: wav.with_suffix(".txt") for stem, wav in wavs.items()}
    return StageRun(base, model, out, sorted(wavs), references, trained.stdout + trained.stderr)


def tensors(path):
    with safe_open(str(path), "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def reference_probabilities(frame, onset, levels, weights, settings):
    """steps x 88 by the definition: per candidate key, features [frame window, onset window,
    strongest onset of the last `memory` steps (earliest of equal ones; 0 before the recording),
    its age / memory, highest frame since], then level window; hidden ReLU layer, sigmoid output."""
    w, memory = settings["window"], settings["memory"]
    steps = len(frame)
    out = np.zeros((steps, 88), np.float64)
    index = np.arange(steps)[:, None] + np.arange(2 * w + 1)[None, :]
    for key in range(88):
        if frame[:, key].max() < settings["candidateFloor"]:
            continue
        f, o, l = (np.pad(a[:, key], w) for a in (frame, onset, levels))
        past = np.pad(onset[:, key], (memory, 0))
        extra = np.zeros((steps, 3))
        for t in range(steps):
            span = past[t:t + memory + 1]
            j = int(span.argmax())
            extra[t] = (span[j], (memory - j) / memory, frame[max(0, t - memory + j):t + 1, key].max())
        x = np.concatenate([f[index], o[index], extra, l[index]], axis=1)
        hidden = np.maximum(0, x @ weights["temporal.hidden.weight"].T.astype(np.float64) + weights["temporal.hidden.bias"])
        z = hidden @ weights["temporal.output.weight"][0].astype(np.float64) + weights["temporal.output.bias"][0]
        out[:, key] = 1 / (1 + np.exp(-z))
    return out


def reading(probabilities, threshold):
    best, key = probabilities.max(axis=1), probabilities.argmax(axis=1)  # argmax: the lowest of equal maxima
    return np.where((best > 0) & (best >= threshold), key + 21, 0)


def test_the_stage_is_its_definition(stage_run):
    weights, metadata = tensors(stage_run.model)
    settings = json.loads(metadata["temporalStage"])
    assert (settings["window"], settings["memory"], settings["hidden"]) == (WINDOW, MEMORY, HIDDEN)
    network = json.loads(metadata["network"])
    kinds = [h["kind"] for h in network["heads"]]
    geometry = json.loads(metadata["frontEnd"])["geometry"]
    centre = geometry["context"] // 2  # step k's thumbnail starts at frame k - context/2
    for stem in stage_run.stems:
        outputs = np.load(stage_run.out / f"{stem}.outputs.npy")
        frame = outputs[:, 88 * kinds.index("frame"):][:, :88].astype(np.float64)
        onset = outputs[:, 88 * kinds.index("onset"):][:, :88].astype(np.float64)
        pixels = np.load(stage_run.out / f"{stem}.thumbnails.npy")
        levels = pixels[:, ::-1, centre].astype(np.float64) / 255  # rows: the highest key first
        expected = reference_probabilities(frame, onset, levels, weights, settings)
        got = np.load(stage_run.out / f"{stem}.stage.npy")
        assert got.shape == expected.shape == (len(outputs), 88)
        np.testing.assert_allclose(got, expected, atol=2e-5, err_msg=stem)
        assert 0.001 < got.std(), f"{stem}: the stage's outputs do not vary"


def labels_from_notes(path, steps, seconds_per_step):
    out = np.zeros(steps, int)
    for line in Path(path).read_text().splitlines()[1:]:
        if line.strip():
            onset, offset, pitch = (float(v) for v in line.split()[:3])
            for k in range(max(0, math.floor(onset / seconds_per_step)), steps):
                t = k * seconds_per_step
                if t >= offset:
                    break
                if t >= onset and 21 <= pitch <= 108:
                    out[k] = max(out[k], int(pitch))
    return out


def test_single_labels_and_their_accuracy(stage_run):
    _, metadata = tensors(stage_run.model)
    threshold = json.loads(metadata["temporalStage"])["threshold"]
    transform = json.loads(metadata["frontEnd"])["transform"]
    seconds_per_step = transform["hop"] / transform["sampleRate"]
    summary = json.loads((stage_run.out / "summary.json").read_text())
    assert "singleLabelStepAccuracy" in summary["mean"]
    for stem in stage_run.stems:
        held = np.load(stage_run.out / f"{stem}.stage.npy")
        lines = (stage_run.out / f"{stem}.steps.txt").read_text().splitlines()
        assert lines[0] == "Time\tMidiPitch" and len(lines) == len(held) + 1
        times = np.array([float(l.split("\t")[0]) for l in lines[1:]])
        labels = np.array([int(l.split("\t")[1]) for l in lines[1:]])
        np.testing.assert_allclose(times, np.arange(len(held)) * seconds_per_step, atol=1e-6)
        np.testing.assert_array_equal(labels, reading(held, threshold), err_msg=stem)
        metrics = json.loads((stage_run.out / f"{stem}.metrics.json").read_text())
        expected = float((labels == labels_from_notes(stage_run.references[stem], len(held), seconds_per_step)).mean())
        assert metrics["singleLabelStepAccuracy"] == pytest.approx(expected, abs=1e-12), stem


def test_train_stage_keeps_the_network_and_records_its_choice(stage_run):
    base, base_metadata = tensors(stage_run.base)
    weights, metadata = tensors(stage_run.model)
    assert set(weights) == set(base) | {"temporal.hidden.weight", "temporal.hidden.bias", "temporal.output.weight", "temporal.output.bias"}
    for name, value in base.items():
        np.testing.assert_array_equal(weights[name], value, err_msg=name)
    for key in ("network", "frontEnd", "input", "steps", "seed"):
        assert metadata[key] == base_metadata[key], key
    record = json.loads(metadata["temporalStageTraining"])
    assert record["trainingRecordings"] >= 3 and record["developmentRecordings"] >= 2 and len(record["epochLosses"]) == 2
    best = max(record["development"], key=lambda d: (d["accuracy"], d["threshold"]))
    assert json.loads(metadata["temporalStage"])["threshold"] == pytest.approx(best["threshold"])
    assert "development single-label step accuracy" in stage_run.train_output


def test_single_label_needs_a_stage(stage_run, tmp_path):
    wav = next(iter(stage_run.references.values())).with_suffix(".wav")
    result = subprocess.run([str(_binary("infer")), str(wav), "--model", str(stage_run.base), "-o", str(tmp_path), "--single-label"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert str(stage_run.base) in result.stderr and "no temporal stage" in result.stderr
    assert not list(tmp_path.iterdir())


def test_train_stage_refuses_what_it_cannot_use(stage_run, end_to_end, tmp_path):
    """A model without a row per key (the paper's 32x32 `simple`), and training audio without
    references, are refused naming the file; nothing is written."""
    wav = next(iter(stage_run.references.values())).with_suffix(".wav")
    out = tmp_path / "out.safetensors"
    result = subprocess.run([str(_binary("train-stage")), str(end_to_end.model), "--train", str(wav), "--dev", str(wav), "-o", str(out)],
                            capture_output=True, text=True)
    assert result.returncode != 0 and str(end_to_end.model) in result.stderr and "one row per key" in result.stderr
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / wav.name).write_bytes(wav.read_bytes())  # no reference beside it
    result = subprocess.run([str(_binary("train-stage")), str(stage_run.base), "--train", str(bare), "--dev", str(wav), "-o", str(out)],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert f"{bare / wav.name}: no reference" in result.stderr and "no recording with a reference" in result.stderr
    assert not out.exists()

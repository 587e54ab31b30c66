"""The piano_thumbs package (python/piano_thumbs): a model file as a torch.nn.Module and a pack
archive as a torch Dataset, checked against the Swift stages.

1. The module's probabilities on `infer --save-arrays`'s thumbnails equal its outputs.npy within
   TOLERANCE, for conftest's three models (simple/single, original/multi with a 25x25 crop, and
   the spec'd network: 88x16 inputs, flipRows, rowShifts, strides, valid padding, three heads).
2. Through an archive: `pack --split 0:0:1` of spectro's thumbnails of the same recording; every
   example of the Dataset's test split, run through the module, gives outputs.npy's row of its
   step (`<split>_source`), so Dataset + module reproduce infer with no Swift in between.
3. The Dataset's arrays are numpy.load's, and its items are their standardised crops and targets.
"""

import numpy as np
import pytest
import torch

from conftest import _binary, run_tool
from piano_thumbs import PackDataset, load_model
from piano_thumbs.spec import standardise

# float32 in both; infer sums the standardisation and softmax in float64 (test_forward.py measures
# both within 7.4e-7 of float64).
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def runs(end_to_end, end_to_end_original, end_to_end_spec, end_to_end_slide) -> dict:
    # The last: networks/piano88-slide.json (per-axis padding, a fixed normalization), evaluated sliding.
    return {"simple": end_to_end, "original": end_to_end_original, "spec": end_to_end_spec, "sliding": end_to_end_slide.sliding}


def test_module_forward_equals_infer(runs):
    report = []
    for name, run in runs.items():
        model = load_model(run.model)
        for stem in run.stems:
            thumbnails = np.load(run.out / f"{stem}.thumbnails.npy")
            expected = np.load(run.out / f"{stem}.outputs.npy")
            with torch.no_grad():
                got = model.probabilities(model.prepare(thumbnails)).numpy()
            assert got.shape == expected.shape == (len(thumbnails), model.output_width), f"{name}/{stem}: {got.shape} vs {expected.shape}"
            error = np.abs(got.astype(np.float64) - expected).max()
            report.append(f"{name}/{stem} ({'+'.join(model.heads)}): max |error| {error:.2g}")
            assert error <= TOLERANCE, "\n".join(report)
    print("\n" + "\n".join(report))


@pytest.fixture(scope="module")
def archive(end_to_end_spec, tmp_path_factory):
    """spectro with the spec model's front end on its recording, packed whole into the test split."""
    run = end_to_end_spec
    model = load_model(run.model)
    fe = model.front_end
    rows, columns = fe["geometry"]["rows"], fe["geometry"]["columns"]
    work = tmp_path_factory.mktemp("package")
    notemaps = [run.notemaps[s] for s in run.stems]
    run_tool([_binary("spectro"), *notemaps, "-o", work / "thumbs", "--transform", fe["transform"]["transform"],
              "--bins-per-octave", fe["transform"]["binsPerOctave"], "--size", f"{rows}x{columns}",
              "--context", fe["geometry"]["context"], "--quality", fe["quality"]], "spectro")
    run_tool([_binary("pack"), work / "thumbs", "-o", work / "data.npz", "--split", "0:0:1"], "pack --split 0:0:1")
    return work / "data.npz", model, run


def test_dataset_through_module_equals_infer(archive):
    path, model, run = archive
    (stem,) = run.stems
    expected = np.load(run.out / f"{stem}.outputs.npy")
    data = PackDataset.for_model(path, model, split="test")
    assert len(data) == len(expected)
    loader = torch.utils.data.DataLoader(data, batch_size=64)
    got = []
    with torch.no_grad():
        for images, targets in loader:
            assert images.shape[1:] == (1, *model.input_shape[1:]) and len(targets) == len(model.heads)
            got.append(model.probabilities(images).numpy())
    got = np.concatenate(got)
    steps = data.source[:, 1]
    assert sorted(steps) == list(range(len(expected))), "the test split holds every step once"
    error = np.abs(got.astype(np.float64) - expected[steps]).max()
    print(f"\nDataset -> module vs infer on {stem}: max |error| {error:.2g} over {len(steps)} steps")
    assert error <= TOLERANCE


def test_dataset_arrays_are_numpy_loads(archive):
    path, model, _ = archive
    with np.load(path) as npz:
        for split in ("train", "valid", "test"):
            data = PackDataset(path, split, targets=("single", "frame", "onset"), input_shape=model.input_shape)
            assert np.array_equal(data.images, npz[f"{split}_images"]) and data.images.dtype == np.uint8
            assert np.array_equal(data.source, npz[f"{split}_source"])
            for member in ("labels", "notes", "onsets"):
                assert np.array_equal(data.arrays[member], npz[f"{split}_{member}"])
            for i in range(0, len(data), 37):
                image, (label, notes, onsets) = data[i]
                assert image.dtype == torch.float32 and image.shape == (1, *model.input_shape[1:])
                want = standardise(npz[f"{split}_images"][i : i + 1], tuple(model.input_shape[1:]))[0]
                assert np.abs(image.numpy() - want).max() < 1e-6
                assert label.item() == npz[f"{split}_labels"][i]
                assert np.array_equal(notes.numpy(), npz[f"{split}_notes"][i].astype(np.float32))
                assert np.array_equal(onsets.numpy(), npz[f"{split}_onsets"][i].astype(np.float32))
    # The whole thumbnail when no input shape is given; one target alone is not wrapped in a tuple.
    whole = PackDataset(path, "test")
    image, label = whole[0]
    assert image.shape == (1, *whole.images.shape[1:]) and label.dtype == torch.int64

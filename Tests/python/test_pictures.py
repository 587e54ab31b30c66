"""The piano roll's embedded spectrogram lies where the notes are: on a one-note recording (the
held-out forte middle C of conftest's end_to_end run), the brightest row of the decoded image,
over the note's time span, falls inside the reference note's bar in the SVG's coordinates. The
legend names the reference only when there is one."""

import base64
import io
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

from conftest import _binary, run_tool

SVG = "{http://www.w3.org/2000/svg}"


def one_note(end_to_end):
    stems = [s for s in end_to_end.stems if "_ISOL_" in s and "_M60_" in s]
    assert stems, f"no middle C among {end_to_end.stems}"
    return stems[0]


def spectrogram(root):
    """The embedded image (rows x columns, float) and its x, y, width, height in the SVG."""
    images = [e for e in root.iter(SVG + "image") if e.get("id") == "spectrogram"]
    assert len(images) == 1, "one embedded spectrogram"
    element = images[0]
    href = element.get("href")
    assert href.startswith("data:image/jpeg;base64,"), href[:40]
    with Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1]))) as picture:
        assert picture.format == "JPEG" and picture.mode == "L"
        pixels = np.asarray(picture, dtype=np.float64)
    return pixels, [float(element.get(k)) for k in ("x", "y", "width", "height")]


def test_spectrogram_under_the_notes_is_aligned(end_to_end):
    stem = one_note(end_to_end)
    root = ET.parse(end_to_end.output(stem, ".roll.svg")).getroot()
    pixels, (x0, y0, width, height) = spectrogram(root)
    bars = [g for g in root.iter(SVG + "g") if g.get("class") == "reference"][0].findall(SVG + "rect")
    assert len(bars) == 1, "one reference note"
    bar = {k: float(bars[0].get(k)) for k in ("x", "y", "width", "height")}
    rows, columns = pixels.shape
    column_x = x0 + (np.arange(columns) + 0.5) * width / columns
    inside = (column_x >= bar["x"]) & (column_x <= bar["x"] + bar["width"])
    assert inside.sum() >= 10, "the note spans the picture's columns"
    profile = pixels[:, inside].mean(axis=1)
    brightest = int(profile.argmax())
    y = y0 + (brightest + 0.5) * height / rows
    print(f"\n{stem}: brightest image row {brightest} of {rows} at y {y:.1f}; the note's key row spans {bar['y']:.1f}..{bar['y'] + bar['height']:.1f}")
    assert bar["y"] <= y <= bar["y"] + bar["height"], f"brightest row at y {y:.1f}, the note's row is {bar['y']}..{bar['y'] + bar['height']}"
    legend = "".join(root.itertext())
    assert "reference" in legend and "estimate" in legend and "spectrogram" in legend


def test_legend_without_reference(end_to_end, tmp_path):
    stem = one_note(end_to_end)
    run_tool([_binary("infer"), end_to_end.model, end_to_end.wavs[stem], "-o", tmp_path, "--no-reference"], "infer --no-reference")
    root = ET.parse(tmp_path / f"{stem}.roll.svg").getroot()
    text = "".join(root.itertext())
    assert "reference" not in text and "estimate" in text
    assert not [g for g in root.iter(SVG + "g") if g.get("class") == "reference"]
    spectrogram(root)

"""piano-thumbs from Python: model files as torch modules, pack archives as torch datasets.

    from piano_thumbs import load_model, prepare, PackDataset
    model = load_model("model.safetensors")
    data = PackDataset.for_model("data.npz", model, split="test")
    image, target = data[0]
    probabilities = model.probabilities(image[None])
"""

from .data import PackDataset
from .model import PianoNetwork, load_model, prepare, read_metadata

__all__ = ["PackDataset", "PianoNetwork", "load_model", "prepare", "read_metadata"]

"""A pack archive (Schemas/archive.md: a .npz of train/valid/test arrays) as a torch Dataset."""

import numpy as np
import torch
from torch.utils.data import Dataset

from .model import prepare

# Which archive member each head learns from.
TARGETS = {"single": "labels", "frame": "notes", "onset": "onsets", "offset": "offsets",
           "labels": "labels", "notes": "notes", "onsets": "onsets", "offsets": "offsets"}


class PackDataset(Dataset):
    """One split of an archive: item i is (image, target), the image as the network's input
    pipeline prepares it (centre crop to `input_shape`, standardised; `model.prepare`) and the
    target from `<split>_labels` (int64 class), `<split>_notes`, `<split>_onsets` or `<split>_offsets` (float32 x 88),
    or a tuple of them when `targets` names several.

    `targets`: head kinds or member names (`single`/`labels`, `frame`/`notes`, `onset`/`onsets`,
    `offset`/`offsets`);
    `input_shape`: ([1,] rows, columns), the whole thumbnail by default. The split's arrays are
    read into memory once (`numpy.load`); for shards, `torch.utils.data.ConcatDataset`."""

    def __init__(self, path, split: str = "train", targets=("labels",), input_shape=None, normalization=None):
        self.path, self.split, self.normalization = str(path), split, normalization
        self.targets = (targets,) if isinstance(targets, str) else tuple(targets)
        with np.load(self.path) as archive:
            self.images = archive[f"{split}_images"]
            self.arrays = {TARGETS[t]: archive[f"{split}_{TARGETS[t]}"] for t in self.targets}
            self.source = archive[f"{split}_source"]
        self.input_shape = tuple(input_shape)[-2:] if input_shape is not None else self.images.shape[1:]

    @classmethod
    def for_model(cls, path, model, split: str = "train"):
        """The split with `model`'s input shape and one target per head, in its head order."""
        return cls(path, split, targets=model.heads, input_shape=model.input_shape, normalization=model.spec.get("normalization"))

    def __len__(self) -> int:
        return len(self.images)

    def target(self, name: str, i: int) -> torch.Tensor:
        value = self.arrays[name][i]
        return torch.tensor(int(value)) if name == "labels" else torch.from_numpy(value.astype(np.float32))

    def __getitem__(self, i: int):
        image = prepare(self.images[i], self.input_shape, normalization=self.normalization)
        found = tuple(self.target(TARGETS[t], i) for t in self.targets)
        return image, found[0] if len(found) == 1 else found

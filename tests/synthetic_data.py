"""Small, learnable Fashion-MNIST-shaped IDX files for tests that must not wait for the real data."""

from pathlib import Path

import numpy as np

from fashion_mnist import dataset
from fashion_mnist import features
from fashion_mnist import idx


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Noise, plus a bright band of rows whose position encodes the label: easy to learn."""
  images = rng.integers(0, 60, size=(len(labels), *features.IMAGE_SHAPE), dtype=np.uint8)
  for i, label in enumerate(labels):
    images[i, 2 + 2 * label:4 + 2 * label, :] = 200 + rng.integers(0, 56)
  return images


def write_dataset(directory: Path, num_train: int = 400, num_test: int = 200,
                  seed: int = 0) -> Path:
  """Writes the four gzipped IDX files (labels cycling through 0-9) into directory."""
  rng = np.random.default_rng(seed)
  directory.mkdir(parents=True, exist_ok=True)
  for split, count in ((dataset.TRAIN, num_train), (dataset.TEST, num_test)):
    labels = (np.arange(count) % features.NUM_CLASSES).astype(np.uint8)
    rng.shuffle(labels)
    idx.write_images(directory / split.images_file, make_images(labels, rng))
    idx.write_labels(directory / split.labels_file, labels)
  return directory

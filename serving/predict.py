"""`fashion-pipeline predict`: classify image files with a pushed model, in-process, no server.

In: a model dir (a serving dir, whose newest version is used, or one SavedModel) and image
arguments `PATH` or `PATH=LABEL`, where LABEL, the true class, is a class id 0-9 or a class name
(case, spaces and punctuation ignored; a unique prefix will do: `boot.png=9`,
`boot.png="Ankle boot"`, `top.jpg=t-shirt`). A path that exists as given is never split at "=".
Out: one line per image, its predicted class and probability (and the true class when given);
with a plot path, the tutorial's picture: each image with "predicted NN% (true)" under it (blue
when right, red when wrong) beside the bar chart of the ten probabilities (predicted bar red, true
bar blue). Images are read as serving/images.py describes (light item on a dark background, or
`invert`).
"""

import dataclasses
import math
import re
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from fashion_mnist import features
from serving import images
from serving import inference
from serving import versions
from serving.config import ConfigError


def _squash(text: str) -> str:
  return re.sub(r'[^a-z0-9]', '', text.lower())


def parse_label(text: str) -> int:
  """A class id 0-9 or a class name (see the module docstring) as a class id."""
  if text.isdigit() and int(text) < features.NUM_CLASSES:
    return int(text)
  matches = [i for i, name in enumerate(features.CLASS_NAMES)
             if _squash(name).startswith(_squash(text)) and _squash(text)]
  exact = [i for i in matches if _squash(features.CLASS_NAMES[i]) == _squash(text)]
  if len(exact or matches) != 1:
    raise ConfigError(f'label {text!r} is neither a class id 0-{features.NUM_CLASSES - 1} nor '
                       f'one class name of {", ".join(features.CLASS_NAMES)}')
  return (exact or matches)[0]


@dataclasses.dataclass(frozen=True)
class ImageArg:
  path: Path
  label: Optional[int] = None  # the true class, when known


def parse_image_arg(text: str) -> ImageArg:
  """`PATH` or `PATH=LABEL` (see the module docstring)."""
  if '=' in text and not Path(text).exists():
    path, _, label = text.rpartition('=')
    return ImageArg(Path(path), parse_label(label))
  return ImageArg(Path(text))


@dataclasses.dataclass(frozen=True)
class Prediction:
  arg: ImageArg
  image: np.ndarray  # [28, 28], 0-255, as the model saw it
  probabilities: np.ndarray  # [10]

  @property
  def class_id(self) -> int:
    return int(np.argmax(self.probabilities))

  def describe(self) -> str:
    line = (f'{self.arg.path}: {features.CLASS_NAMES[self.class_id]} '
            f'{100 * self.probabilities[self.class_id]:.1f}%')
    if self.arg.label is not None:
      right = 'right' if self.arg.label == self.class_id else 'wrong'
      line += f' (true: {features.CLASS_NAMES[self.arg.label]}, {right})'
    return line


def _read_image(arg: ImageArg, invert: bool) -> np.ndarray:
  try:
    return images.decode(arg.path.read_bytes(), invert=invert)
  except OSError as e:
    raise ConfigError(f'{arg.path}: cannot be read ({e.strerror})') from e
  except images.ImageError as e:
    raise ConfigError(f'{arg.path}: {e}') from e


def predict(model_dir: Path, args: Sequence[ImageArg],
            invert: bool = False) -> Tuple[Path, List[Prediction]]:
  """Loads the model and classifies the images in one batch; returns the model path used."""
  try:
    model_path = versions.resolve_model_path(model_dir)
  except FileNotFoundError as e:
    raise ConfigError(str(e)) from e
  pixels = np.stack([_read_image(arg, invert) for arg in args])
  model = tf.saved_model.load(str(model_path))
  outputs = inference.run(model.signatures[features.IMAGES_SIGNATURE],
                          {features.IMAGES_INPUT_KEY: pixels}, max_batch_size=len(args))
  return model_path, [Prediction(arg, image, probabilities) for arg, image, probabilities
                      in zip(args, pixels, outputs[features.PROBABILITIES_KEY])]


def _plot_image(axes, prediction: Prediction) -> None:
  axes.grid(False)
  axes.set_xticks([])
  axes.set_yticks([])
  axes.imshow(prediction.image, cmap='binary', vmin=0, vmax=features.MAX_PIXEL_VALUE)
  label = (f'{features.CLASS_NAMES[prediction.class_id]} '
           f'{100 * prediction.probabilities[prediction.class_id]:2.0f}%')
  color = 'black'
  if prediction.arg.label is not None:
    label += f' ({features.CLASS_NAMES[prediction.arg.label]})'
    color = 'blue' if prediction.arg.label == prediction.class_id else 'red'
  axes.set_xlabel(label, color=color)


def _plot_probabilities(axes, prediction: Prediction) -> None:
  axes.grid(False)
  axes.set_xticks(range(features.NUM_CLASSES))
  axes.set_yticks([])
  bars = axes.bar(range(features.NUM_CLASSES), prediction.probabilities, color='#777777')
  axes.set_ylim([0, 1])
  bars[prediction.class_id].set_color('red')
  if prediction.arg.label is not None:
    bars[prediction.arg.label].set_color('blue')


def plot(predictions: Sequence[Prediction], path: Path) -> None:
  """The tutorial's picture: up to three image-and-bars pairs a row."""
  columns = min(3, len(predictions))
  rows = math.ceil(len(predictions) / columns)
  figure = Figure(figsize=(2 * 2 * columns, 2 * rows))
  for i, prediction in enumerate(predictions):
    _plot_image(figure.add_subplot(rows, 2 * columns, 2 * i + 1), prediction)
    _plot_probabilities(figure.add_subplot(rows, 2 * columns, 2 * i + 2), prediction)
  figure.tight_layout()
  figure.savefig(path)


def run(model_dir: Path, image_args: Sequence[str], plot_path: Optional[Path] = None,
        invert: bool = False) -> int:
  """The command: prints a line per image, saves the plot if asked; returns the exit code."""
  args = [parse_image_arg(text) for text in image_args]
  model_path, predictions = predict(model_dir, args, invert)
  print(f'Model: {model_path}')
  for prediction in predictions:
    print(prediction.describe())
  if plot_path is not None:
    plot(predictions, plot_path)
    print(f'Plot: {plot_path}')
  return 0

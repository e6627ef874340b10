"""The report's pictures, drawn with matplotlib.

In: plain numbers and images (label counts, histogram buckets, a confusion matrix, 28x28 images
with labels and predicted probabilities).
Out: PNG bytes, for embedding in the HTML page.

Figures are made with matplotlib.figure.Figure rather than pyplot: they are never registered with
pyplot's global figure list, so nothing needs closing and nothing leaks; PNG output uses Agg.
"""

import io
from typing import Dict, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from tensorflow_metadata.proto.v0 import statistics_pb2

from fashion_mnist import features

THIS_RUN_COLOR = '#1f77b4'
PREVIOUS_RUN_COLOR = '#aaaaaa'


def _png(figure: Figure) -> bytes:
  buffer = io.BytesIO()
  # The tight bounding box counts only the middle of an x label; a label wider than its axes (as
  # under the test images) is kept whole by naming it explicitly.
  labels = [axes.xaxis.label for axes in figure.axes]
  figure.savefig(buffer, format='png', dpi=80, bbox_inches='tight', bbox_extra_artists=labels)
  return buffer.getvalue()


def label_distribution(counts: Dict[str, int]) -> bytes:
  """Horizontal bars: examples per class, class names on the axis."""
  figure = Figure(figsize=(6, 0.3 * len(counts) + 0.8))
  axes = figure.subplots()
  names = list(counts)
  axes.barh(names, list(counts.values()), color=THIS_RUN_COLOR)
  axes.invert_yaxis()  # the first class on top
  axes.set_xlabel('examples')
  return _png(figure)


def label_distribution_comparison(current: Dict[str, int], previous: Dict[str, int]) -> bytes:
  """This run's and the previous run's share of each class, side by side."""
  names = list(dict.fromkeys([*current, *previous]))
  positions = np.arange(len(names))
  figure = Figure(figsize=(6, 0.4 * len(names) + 0.8))
  axes = figure.subplots()
  # Shares, not counts: the two runs may have different numbers of examples.
  for offset, counts, color, label in ((-0.2, current, THIS_RUN_COLOR, 'this run'),
                                       (0.2, previous, PREVIOUS_RUN_COLOR, 'previous run')):
    total = sum(counts.values()) or 1
    axes.barh(positions + offset, [counts.get(name, 0) / total for name in names], height=0.4,
              color=color, label=label)
  axes.set_yticks(positions, names)
  axes.invert_yaxis()
  axes.set_xlabel('share of examples')
  axes.legend(loc='lower right')
  return _png(figure)


def value_histogram(histogram: statistics_pb2.Histogram, xlabel: str) -> bytes:
  """TFDV's histogram as bars over the value range: counts for a standard histogram; for a
  quantiles one (equal counts, unequal widths) the count per unit of value, so the heights mean
  something."""
  lows = np.array([b.low_value for b in histogram.buckets])
  highs = np.array([b.high_value for b in histogram.buckets])
  counts = np.array([b.sample_count for b in histogram.buckets])
  quantiles = histogram.type == statistics_pb2.Histogram.QUANTILES
  # Pixel values are integers: a bucket from v to v still covers one whole value.
  widths = np.maximum(highs - lows, 1.0)
  figure = Figure(figsize=(6, 2.6))
  axes = figure.subplots()
  axes.bar(lows, counts / widths if quantiles else counts, width=widths, align='edge',
           color=THIS_RUN_COLOR, edgecolor='white')
  axes.set_xlabel(xlabel)
  axes.set_ylabel('values per unit' if quantiles else 'values')
  return _png(figure)


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> bytes:
  """A heat map of the counts, true class down, predicted class across, each count written in."""
  figure = Figure(figsize=(8, 7))
  axes = figure.subplots()
  image = axes.imshow(matrix, cmap='Blues')
  figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
  ticks = np.arange(len(class_names))
  axes.set_xticks(ticks, class_names, rotation=45, ha='right')
  axes.set_yticks(ticks, class_names)
  axes.set_xlabel('predicted class')
  axes.set_ylabel('true class')
  # White text on the dark half of the color scale, black on the light half.
  middle = matrix.max() / 2 if matrix.size else 0
  for (row, column), count in np.ndenumerate(matrix):
    axes.text(column, row, f'{count:g}', ha='center', va='center', fontsize=8,
              color='white' if count > middle else 'black')
  return _png(figure)


def _show_image(axes, image: np.ndarray) -> None:
  axes.set_xticks([])
  axes.set_yticks([])
  axes.grid(False)
  axes.imshow(image, cmap='binary')


def training_images(images: np.ndarray, labels: np.ndarray) -> bytes:
  """The tutorial's 5x5 grid of training images, the class name under each."""
  figure = Figure(figsize=(10, 10))
  for i, (image, label) in enumerate(zip(images[:25], labels[:25])):
    axes = figure.add_subplot(5, 5, i + 1)
    _show_image(axes, image)
    axes.set_xlabel(features.CLASS_NAMES[label])
  return _png(figure)


def test_predictions(images: np.ndarray, labels: np.ndarray,
                     probabilities: Optional[np.ndarray]) -> bytes:
  """The tutorial's plot_image/plot_value_array grid: 5 rows of 3 test images, each with
  'predicted NN% (true)' under it (blue when right, red when wrong) beside a bar chart of its
  probabilities (predicted bar red, true bar blue). Without probabilities, the images with their
  true class only."""
  num_rows, num_cols = 5, 3
  shown = zip(images[:num_rows * num_cols], labels)
  if probabilities is None:
    figure = Figure(figsize=(2 * num_cols, 2 * num_rows))
    for i, (image, label) in enumerate(shown):
      axes = figure.add_subplot(num_rows, num_cols, i + 1)
      _show_image(axes, image)
      axes.set_xlabel(features.CLASS_NAMES[label])
  else:
    figure = Figure(figsize=(2 * 2 * num_cols, 2 * num_rows))
    for i, (image, label) in enumerate(shown):
      _plot_image(figure.add_subplot(num_rows, 2 * num_cols, 2 * i + 1), image, label,
                  probabilities[i])
      _plot_value_array(figure.add_subplot(num_rows, 2 * num_cols, 2 * i + 2), label,
                        probabilities[i])
  figure.tight_layout()
  return _png(figure)


def _plot_image(axes, image: np.ndarray, label: int, probabilities: np.ndarray) -> None:
  _show_image(axes, image)
  predicted = int(np.argmax(probabilities))
  axes.set_xlabel(f'{features.CLASS_NAMES[predicted]} {100 * np.max(probabilities):2.0f}% '
                  f'({features.CLASS_NAMES[label]})',
                  color='blue' if predicted == label else 'red')


def _plot_value_array(axes, label: int, probabilities: np.ndarray) -> None:
  axes.grid(False)
  axes.set_xticks(range(features.NUM_CLASSES))
  axes.set_yticks([])
  bars = axes.bar(range(features.NUM_CLASSES), probabilities, color='#777777')
  axes.set_ylim([0, 1])
  bars[int(np.argmax(probabilities))].set_color('red')
  bars[label].set_color('blue')


def accuracy_history(accuracies: Sequence[Optional[float]], blessed: Sequence[Optional[bool]],
                     pushed: Sequence[bool], this_run: Optional[int], baseline: Optional[int],
                     threshold: float) -> bytes:
  """The accuracy of each of the last runs, oldest left: blessed runs green, others grey, pushed
  ones ringed; this run and its baseline named; runs without an accuracy (stopped, killed,
  evaluation removed) as small marks on the axis; the threshold as a dashed line."""
  figure = Figure(figsize=(10, 3.2))
  axes = figure.subplots()
  positions = np.arange(len(accuracies))
  measured = [i for i, a in enumerate(accuracies) if a is not None]
  values = [accuracies[i] for i in measured]
  low = min([*values, threshold]) - 0.01
  high = max([*values, threshold]) + 0.02  # room for the legend
  axes.plot(measured, values, color='#bbbbbb', linewidth=1, zorder=1)
  for kind, color, label in ((True, '#2e7d32', 'blessed'), (False, '#9e9e9e', 'not blessed')):
    chosen = [i for i in measured if bool(blessed[i]) is kind]
    axes.scatter(chosen, [accuracies[i] for i in chosen], color=color, s=28, zorder=3,
                 label=label)
  rings = [i for i in measured if pushed[i]]
  axes.scatter(rings, [accuracies[i] for i in rings], facecolors='none', edgecolors='#1565c0',
               s=110, linewidths=1.5, zorder=4, label='pushed')
  missing = [i for i, a in enumerate(accuracies) if a is None]
  axes.scatter(missing, [low + 0.002] * len(missing), marker='|', color='#c62828', s=60,
               zorder=3, label='no accuracy')
  axes.axhline(threshold, color='#c62828', linestyle='--', linewidth=1, label='threshold')
  for index, text in ((baseline, 'baseline'), (this_run, 'this run')):
    if index is not None and accuracies[index] is not None:
      axes.annotate(text, (index, accuracies[index]), textcoords='offset points',
                    xytext=(0, 10), ha='center', fontsize=9)
  axes.set_xlim(-1, max(len(accuracies), 2))
  axes.set_ylim(low, high)
  axes.set_xticks(positions[::max(1, len(positions) // 10)])
  axes.set_xlabel(f'run (the last {len(accuracies)}, oldest left)')
  axes.set_ylabel('test accuracy')
  axes.legend(loc='upper left', fontsize=8, ncol=5)
  return _png(figure)

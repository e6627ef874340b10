"""`fashion-pipeline predict`: local prediction of image files, with true labels and the
tutorial's plot, and clear errors for bad files and labels."""

import re

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from fashion_mnist import features
from helpers import run_cli

pytestmark = pytest.mark.serving


def test_prints_each_class_and_saves_the_tutorials_plot(tmp_path, pushed_model, local_model):
  paths = []
  for i in range(4):
    paths.append(tmp_path / f'item{i}.png')
    Image.fromarray(pushed_model.images[i]).save(paths[-1])
  labels = pushed_model.labels[:4]
  reference = local_model.signatures[features.IMAGES_SIGNATURE](
      images=tf.constant(pushed_model.images[:4], tf.float32))
  predicted = reference[features.CLASS_ID_KEY].numpy()
  plot = tmp_path / 'plot.png'
  result = run_cli('predict', f'{paths[0]}={labels[0]}',
                   f'{paths[1]}={features.CLASS_NAMES[labels[1]].upper()}', str(paths[2]),
                   str(paths[3]), '--model-dir', str(pushed_model.version_dir.parent),
                   '--plot', str(plot))
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.splitlines()
  assert lines[0] == f'Model: {pushed_model.version_dir}'
  for i, line in enumerate(lines[1:5]):
    probability = 100 * reference[features.PROBABILITIES_KEY].numpy()[i, predicted[i]]
    assert line.startswith(f'{paths[i]}: {features.CLASS_NAMES[predicted[i]]} '
                           f'{probability:.1f}%')
    if i < 2:
      right = 'right' if labels[i] == predicted[i] else 'wrong'
      assert line.endswith(f'(true: {features.CLASS_NAMES[labels[i]]}, {right})')
    else:
      assert not re.search(r'\(true', line)
  assert lines[5] == f'Plot: {plot}'
  with Image.open(plot) as picture:
    assert picture.format == 'PNG' and picture.size == (1200, 400)  # 3 pairs a row, 2 rows
    # Red (the predicted bar, or a wrong prediction) and the grey of the other bars are drawn.
    colors = np.asarray(picture.convert('RGB')).reshape(-1, 3)
    assert ((colors == [255, 0, 0]).all(axis=1)).any()
    assert ((colors == [0x77, 0x77, 0x77]).all(axis=1)).any()


def test_bad_files_and_labels_are_refused_with_exit_code_2(tmp_path, pushed_model):
  text = tmp_path / 'notes.png'
  text.write_text('not an image')
  image = tmp_path / 'item.png'
  Image.fromarray(pushed_model.images[0]).save(image)
  model_dir = str(pushed_model.version_dir)
  for args, message in (
      ([str(text)], f'{text}: not a PNG or JPEG image'),
      ([str(tmp_path / 'missing.png')], 'missing.png: cannot be read'),
      ([f'{image}=hat'], "label 'hat' is neither a class id 0-9 nor one class name"),
      ([f'{image}=s'], "label 's' is neither"),  # Sandal, Shirt and Sneaker: ambiguous
  ):
    result = run_cli('predict', *args, '--model-dir', model_dir)
    assert result.returncode == 2, result.stderr[-3000:]
    assert message in result.stderr and 'Traceback' not in result.stderr
  empty = tmp_path / 'empty'
  empty.mkdir()
  result = run_cli('predict', str(image), '--model-dir', str(empty))
  assert result.returncode == 2 and 'neither a SavedModel nor a serving dir' in result.stderr

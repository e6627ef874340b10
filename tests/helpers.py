"""Helpers for tests: small generated IDX datasets, the real dataset's place, running the CLI,
and calling a SavedModel in a fresh process."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

from fashion_mnist import dataset
from fashion_mnist import features
from fashion_mnist import idx

REPO_ROOT = Path(__file__).resolve().parent.parent
# The real files: FASHION_MNIST_DIR, else the shared copy beside the clone (as in CI).
REAL_DATA_DIR = Path(os.environ.get('FASHION_MNIST_DIR')
                     or REPO_ROOT.parent / 'shared' / 'data' / 'fashion-mnist')


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Noise, plus a bright band of rows whose position encodes the label: quick to learn."""
  images = rng.integers(0, 60, size=(len(labels), *features.IMAGE_SHAPE), dtype=np.uint8)
  for i, label in enumerate(labels):
    images[i, 2 + 2 * label:4 + 2 * label, :] = 200 + rng.integers(0, 56)
  return images


def generated_split(count: int, seed: int, skew: float = 0.0):
  """count images and labels; skew > 0 makes the first classes more frequent."""
  rng = np.random.default_rng(seed)
  weights = np.exp(-skew * np.arange(features.NUM_CLASSES))
  labels = rng.choice(features.NUM_CLASSES, size=count, p=weights / weights.sum())
  return make_images(labels.astype(np.uint8), rng), labels


def compute_statistics(images: np.ndarray, labels: np.ndarray, schema=None):
  """TFDV's statistics (a DatasetFeatureStatistics) of tf.Examples made as ExampleGen makes them,
  decoded as StatisticsGen decodes them; computed in memory (StatisticsGen's generators)."""
  # pylint: disable=g-import-not-at-top  (only tests that need them)
  import tensorflow_data_validation as tfdv
  from tensorflow_data_validation.statistics import stats_impl
  from tfx_bsl.coders import example_coder

  from fashion_mnist import examples
  serialized = list(examples.serialize(images, labels))
  batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(serialized)
  options = tfdv.StatsOptions(schema=schema) if schema else tfdv.StatsOptions()
  return stats_impl.generate_statistics_in_memory(batch, options).datasets[0]


def write_dataset(directory: Path, num_train: int = 400, num_test: int = 200,
                  seed: int = 0) -> Path:
  """Writes the four gzipped IDX files (labels in shuffled order) into directory."""
  rng = np.random.default_rng(seed)
  directory.mkdir(parents=True, exist_ok=True)
  for split, count in ((dataset.TRAIN, num_train), (dataset.TEST, num_test)):
    labels = (np.arange(count) % features.NUM_CLASSES).astype(np.uint8)
    rng.shuffle(labels)
    idx.write_images(directory / split.images_file, make_images(labels, rng))
    idx.write_labels(directory / split.labels_file, labels)
  return directory


def write_examples(directory: Path, split_examples) -> Path:
  """Writes tf.Examples as gzipped TFRecords in directory/<split>/, the --examples-dir layout.
  split_examples maps a split name to a list of (pixel values, label) pairs; the pixel values
  may be of any length and range, to make bad data."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (only tests that need it)
  for split, examples in split_examples.items():
    (directory / split).mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(directory / split / 'data.tfrecord.gz'), 'GZIP') as writer:
      for pixels, label in examples:
        # Field by field, not with fashion_mnist/examples.py: the records may break its contract.
        writer.write(tf.train.Example(features=tf.train.Features(feature={
            features.IMAGE_KEY: tf.train.Feature(int64_list=tf.train.Int64List(
                value=np.asarray(pixels, np.int64).reshape(-1).tolist())),
            features.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        })).SerializeToString())
  return directory


def cli_command(*args: str) -> list:
  """The installed `fashion-pipeline` command line with args, for subprocess."""
  return [str(Path(sys.executable).parent / 'fashion-pipeline'), *args]


def run_cli(*args: str, env=None, timeout=None) -> subprocess.CompletedProcess:
  """Runs the installed `fashion-pipeline` command line; returns its exit code and output.
  A run still going after timeout seconds is killed (subprocess.TimeoutExpired)."""
  return subprocess.run(cli_command(*args), capture_output=True, text=True, env=env,
                        timeout=timeout, check=False)


def call_saved_model(model_dir: Path, signature: str, **inputs) -> dict:
  """Loads a SavedModel in a fresh Python process and calls one signature; returns numpy
  outputs (so that nothing from the training process can leak into what is checked)."""
  script = '''
import os, pickle, sys
os.environ['TF_USE_LEGACY_KERAS'] = '1'
import tensorflow as tf
model_dir, signature, inputs = pickle.load(sys.stdin.buffer)
outputs = tf.saved_model.load(model_dir).signatures[signature](**{
    k: tf.constant(v) for k, v in inputs.items()})
sys.stdout.buffer.write(pickle.dumps({k: v.numpy() for k, v in outputs.items()}))
'''
  result = subprocess.run([sys.executable, '-c', script],
                          input=pickle.dumps((str(model_dir), signature, inputs)),
                          capture_output=True, check=False)
  assert result.returncode == 0, result.stderr.decode(errors='replace')[-3000:]
  return pickle.loads(result.stdout)


def error_reading(read, path: Path, text: str, error=ValueError) -> str:
  """Writes text to path and reads it with `read`, which must raise `error` naming the file;
  returns the error's message."""
  path.write_text(text)
  try:
    read(path)
  except error as e:
    assert str(path) in str(e), e
    return str(e)
  raise AssertionError(f'{read.__name__} read {text!r} without an error')

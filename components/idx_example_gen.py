"""ExampleGen for Fashion-MNIST's IDX files.

In: an input directory with an image and a label IDX file per split (for example
`train-images-idx3-ubyte.gz` and `train-labels-idx1-ubyte.gz`), matched by each split's pattern;
or a data root of span folders (`span-<N>/`, each with the four files), of which it reads the
newest (or a given) span, recorded as the output's `span` property.
Out: an Examples artifact of gzipped TFRecords of tf.Examples (the contract of
fashion_mnist/examples.py: `image`, 784 int64 pixel values 0-255, and `label`, 0-9), in
SHARDS_PER_SPLIT files per split that, read in name order, hold the files' original order.

A FileBasedExampleGen with our executor, so TFX's driver fingerprints the input files (a change in
the data invalidates the cache) and span/version patterns work as for any file-based ExampleGen.
"""

import os
from typing import Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from tfx.components import FileBasedExampleGen
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.proto import range_config_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from fashion_mnist import dataset
from fashion_mnist import examples
from fashion_mnist import idx

# The same patterns under a span folder; TFX's driver resolves {SPAN} to the newest span (or a given
# one).
SPAN_SPLIT_PATTERNS = {
    name: f'{dataset.SPAN_DIR_PREFIX}{{SPAN}}/{pattern}'
    for name, pattern in dataset.SPLIT_PATTERNS.items()
}


# Each split is written as this many files, shard k holding the k-th of as many equal runs of
# the examples. Shards are what Beam's workers share out: with the DirectRunner's two workers
# (pipeline/configs.py) ExampleGen writes, and StatisticsGen reads, a split on both cores at once
# (median cold runs on 2 cores: ExampleGen 1.9 s -> 0.9 s, StatisticsGen 4.2 s -> 2.6 s); one file
# per split left the second worker idle.
SHARDS_PER_SPLIT = 2


def shard_file_name(shard: int, num_shards: int) -> str:
  """A shard's file name, as TFX's own ExampleGens name theirs: names sort in shard order."""
  return f'{write_split.DEFAULT_TF_RECORD_FILE_NAME}-{shard:05d}-of-{num_shards:05d}.gz'


def write_shard(shard: int, split_files: Tuple[str, str], output_dir: str,
                num_shards: int = SHARDS_PER_SPLIT) -> None:
  """Writes shard `shard` of `num_shards` of one split's IDX files into output_dir, as gzipped
  TFRecords of serialized tf.Examples in file order.

  TensorFlow's writer, at zlib level 1: Beam's TFRecord sink compresses at the default level
  only, which took 3 s of ExampleGen's 7; level 1 makes files 5% larger."""
  images, labels = idx.read_split(*split_files)
  start, stop = (len(labels) * k // num_shards for k in (shard, shard + 1))
  options = tf.io.TFRecordOptions(compression_type='GZIP', compression_level=1)
  tf.io.gfile.makedirs(output_dir)
  with tf.io.TFRecordWriter(os.path.join(output_dir, shard_file_name(shard, num_shards)),
                            options) as writer:
    for record in examples.serialize(images[start:stop], labels[start:stop]):
      writer.write(record)


class IdxExampleGenExecutor(base_beam_executor.BaseBeamExecutor):
  """Reads IDX files into tf.Examples; writes each split as SHARDS_PER_SPLIT files that keep the
  original order (so test image k is at position k of the files read in name order, and
  evaluation results and reports line up with the IDX files).

  One Beam element per shard: an IDX file is one gzip stream that cannot be split, so each shard
  reads its split's files whole (0.1 s for the training images) and keeps its own run of them."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    input_config = proto_utils.json_to_proto(
        exec_properties[standard_component_specs.INPUT_CONFIG_KEY], example_gen_pb2.Input())
    output_examples = output_dict[standard_component_specs.EXAMPLES_KEY]
    artifact = artifact_utils.get_single_instance(output_examples)
    artifact.split_names = artifact_utils.encode_split_names(
        [split.name for split in input_config.splits])
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    with self._make_beam_pipeline() as pipeline:
      for split in input_config.splits:
        split_files = idx.find_split_files(input_base, split.pattern)
        _ = (pipeline
             | f'Shards[{split.name}]' >> beam.Create(range(SHARDS_PER_SPLIT))
             | f'WriteSplit[{split.name}]' >> beam.Map(
                 write_shard, split_files,
                 artifact_utils.get_split_uri(output_examples, split.name)))
    examples_utils.set_payload_format(artifact, example_gen_pb2.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(
        artifact, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))


def create_example_gen(input_base: str, with_spans: bool = False,
                       span: Optional[int] = None) -> FileBasedExampleGen:
  """The ExampleGen component for the IDX files in input_base, with splits `train` and `eval`.

  with_spans: input_base holds span folders; the newest span is read, or `span` when given.
  """
  patterns = SPAN_SPLIT_PATTERNS if with_spans else dataset.SPLIT_PATTERNS
  input_config = example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name=name, pattern=pattern) for name, pattern in patterns.items()
  ])
  range_config = None
  if span is not None:
    range_config = range_config_pb2.RangeConfig(
        static_range=range_config_pb2.StaticRange(start_span_number=span, end_span_number=span))
  return FileBasedExampleGen(
      input_base=input_base,
      input_config=input_config,
      range_config=range_config,
      custom_executor_spec=executor_spec.BeamExecutorSpec(IdxExampleGenExecutor))

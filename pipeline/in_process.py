"""How the work that runs in the pipeline's own process is set up: TensorFlow's thread pools and
Beam's bundle state sampler. LocalDagRunner runs every component in this process (and, with the
default engine, Beam too), so these are process-wide and must be set before TensorFlow runs an op.

In: nothing. Out: TensorFlow on one intra-op and one inter-op thread; Beam's state sampler waking
every 20 ms at most; one TypeOptions view per Beam options object; long arrays summarised in reprs.
"""

import weakref

from apache_beam.options import pipeline_options
from apache_beam.runners.worker import statesampler
import numpy as np
import tensorflow as tf

# One thread for TensorFlow's ops. The Trainer's steps are small (a batch of 32 through a
# 784x128 layer): splitting each op over the two cores costs more in hand-overs than it gains.
# On this 2-core machine an epoch of fit() alone took 0.95 s on two threads and 0.6 s on one;
# in the pipeline, where the gain is smaller, 0.9 s and 0.8 s (two cold runs each). The
# Evaluator's and the report's predictions were no slower, and tf.data keeps its own threads.
_TENSORFLOW_THREADS = 1
# Beam's FnApiRunner stops a bundle's state sampler by joining its thread, which sleeps up to its
# period (ramping up to 200 ms): 0.1-0.2 s at the end of every stage, 0.85 s a cold run (py-spy).
# The sampler only feeds Beam's per-step msec counters, which nothing here reads.
_STATE_SAMPLING_PERIOD_MS = 20
# Beam looks up TypeOptions at every transform it applies and, since Beam 2.66, at every type-hint
# check (typehints.is_consistent_with), and each view_as() builds an argparse parser and parses
# the flags again: 1.6 s of building the Evaluator's and StatisticsGen's pipelines (py-spy, 80 of
# their samples at 50 Hz). A view reads and writes its source's option values (_all_options), so
# one view serves every lookup.
_BEAM_VIEW_AS = pipeline_options.PipelineOptions.view_as
_type_options_views: 'weakref.WeakKeyDictionary' = weakref.WeakKeyDictionary()
# TFMA calls the model's examples signature positionally; TensorFlow's loaded signatures take
# keywords only, so each call first fails and formats the whole batch of serialized examples into
# the error message it then drops, before the positional fallback runs: 0.7 s of the Evaluator's
# 10 s formatting up to 1,000 strings of 1 kB a batch (py-spy). Summarised, a repr shows 6 items.
_REPR_SUMMARY_THRESHOLD = 64


def use_one_tensorflow_thread() -> None:
  """TensorFlow's intra- and inter-op pools at _TENSORFLOW_THREADS. RuntimeError once TensorFlow
  has run an op in this process (its pools are made then)."""
  tf.config.threading.set_intra_op_parallelism_threads(_TENSORFLOW_THREADS)
  tf.config.threading.set_inter_op_parallelism_threads(_TENSORFLOW_THREADS)


def shorten_beam_state_sampling() -> None:
  """Beam's bundle processors make their StateSampler without a period: the default becomes
  _STATE_SAMPLING_PERIOD_MS."""
  statesampler.StateSampler.__init__.__defaults__ = (_STATE_SAMPLING_PERIOD_MS,)


def _view_as_reusing_type_options(options: pipeline_options.PipelineOptions, cls):
  if cls is not pipeline_options.TypeOptions:
    return _BEAM_VIEW_AS(options, cls)
  view = _type_options_views.get(options)
  if view is None:
    view = _type_options_views[options] = _BEAM_VIEW_AS(options, cls)
  return view


def reuse_beam_type_options_views() -> None:
  """PipelineOptions.view_as(TypeOptions) returns the same view of an options object each time."""
  pipeline_options.PipelineOptions.view_as = _view_as_reusing_type_options


def summarise_long_array_reprs() -> None:
  """numpy (and so TensorFlow's tensor reprs) summarises arrays of more than
  _REPR_SUMMARY_THRESHOLD elements."""
  np.set_printoptions(threshold=_REPR_SUMMARY_THRESHOLD)

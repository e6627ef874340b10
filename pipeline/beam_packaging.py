"""Stops TFX from packaging itself for Beam workers that already run this environment.

TFX's BaseBeamExecutor, whenever a component has Beam pipeline args and none of them says where
the workers' code comes from (--extra_package, --setup_file, --requirements_file,
--sdk_container_image), copies the installed `tfx` package to a temporary folder and builds an
sdist of it (`python setup.py sdist`, tfx/utils/dependency_utils.py), to stage for remote workers.
It does so for every Beam component of every run, on both stacks: 1.2 s of CPU each on an idle
2-core machine (more under load), and 49 MB left behind in /tmp each time, about 200 MB a run that
nothing ever removes. The package is only of use to workers that lack TFX. Ours have it: Beam runs
in this process (the FnApiRunner or DirectRunner), or in SDK workers that a worker pool started from
this environment (environment_type EXTERNAL, as the README's Flink, Spark and portable runs do), or
in this process again (LOOPBACK). For those the args are passed on as they are; for any other
runner (Dataflow, DOCKER or PROCESS environments) TFX's own behaviour stands.

In: the Beam pipeline args. Out: TFX's dependency step replaced by one that skips the package for
runners whose workers run this environment.
"""

import logging
from typing import Callable, List, Sequence

from apache_beam.options import pipeline_options
from tfx.utils import dependency_utils

# Runners, by the last part of their name, that run Python in this process.
_IN_PROCESS_RUNNERS = frozenset(
    {'directrunner', 'switchingdirectrunner', 'bundlebaseddirectrunner', 'fnapirunner'})
# Portable environments whose SDK workers run this environment's code.
_OWN_ENVIRONMENTS = frozenset({'EXTERNAL', 'LOOPBACK'})


def workers_run_this_environment(beam_args: Sequence[str]) -> bool:
  options = pipeline_options.PipelineOptions(flags=list(beam_args))
  runner = (options.view_as(pipeline_options.StandardOptions).runner or 'DirectRunner')
  if runner.rsplit('.', 1)[-1].lower() in _IN_PROCESS_RUNNERS:
    return True
  environment = options.view_as(pipeline_options.PortableOptions).environment_type
  return (environment or '').upper() in _OWN_ENVIRONMENTS


def _skipping_for_own_workers(tfx_step: Callable[[List[str]], List[str]]):

  def make_beam_dependency_flags(beam_pipeline_args: List[str]) -> List[str]:
    if workers_run_this_environment(beam_pipeline_args):
      return beam_pipeline_args
    return tfx_step(beam_pipeline_args)

  make_beam_dependency_flags.tfx_step = tfx_step
  return make_beam_dependency_flags


def skip_tfx_package_for_own_workers() -> None:
  """Installs the step above in place of TFX's, once. A TFX without that function (a future
  release) keeps its own behaviour: slower, never wrong."""
  tfx_step = getattr(dependency_utils, 'make_beam_dependency_flags', None)
  if tfx_step is None:
    logging.warning('tfx.utils.dependency_utils.make_beam_dependency_flags is gone: TFX may '
                    'package itself for every Beam component (slower, not wrong)')
    return
  if not hasattr(tfx_step, 'tfx_step'):
    dependency_utils.make_beam_dependency_flags = _skipping_for_own_workers(tfx_step)

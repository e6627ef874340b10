"""`--files_to_stage`: the jars a Java runner ships to the cluster's workers with each job (Java's
filesToStage option). Beam's Python SDK sends the job server only the options it knows, and this
one it does not, so it is declared here; import this module in the process that runs the Beam
pipelines. Without it Beam's Spark job server ships its whole classpath, Spark's own 250 jars
included, to every executor of every job (a minute of copying per component here).
"""

from apache_beam.options.pipeline_options import PipelineOptions



def _declared_by_beam(option: str) -> bool:
  return option in PipelineOptions(flags=[]).get_all_options()


# Beam 2.77 (the current stack) declares --files_to_stage itself, among its SetupOptions; declaring
# it again would make every PipelineOptions fail with a conflicting option string. Beam 2.61 (the
# legacy stack, where the distributed tests run) does not.
if not _declared_by_beam('files_to_stage'):

  class JavaStagingOptions(PipelineOptions):

    @classmethod
    def _add_argparse_args(cls, parser):
      parser.add_argument('--files_to_stage', type=lambda paths: paths.split(','), default=None,
                          help='comma-separated jars for the Java runner to ship to its workers')

"""`--files_to_stage`: the jars a Java runner ships to the cluster's workers with each job (Java's
filesToStage option). Beam's Python SDK sends the job server only the options it knows, and this
one it does not, so it is declared here; import this module in the process that runs the Beam
pipelines. Without it Beam's Spark job server ships its whole classpath, Spark's own 250 jars
included, to every executor of every job (a minute of copying per component here).
"""

from apache_beam.options.pipeline_options import PipelineOptions


class JavaStagingOptions(PipelineOptions):

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--files_to_stage', type=lambda paths: paths.split(','), default=None,
                        help='comma-separated jars for the Java runner to ship to its workers')

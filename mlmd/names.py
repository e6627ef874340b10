"""The names ML Metadata records for this pipeline: artifact types, their properties, the input
and output keys of events, context types and component ids.

TFX's own constants are in modules that import TensorFlow; these are the same strings
(tests/mlmd/test_names.py checks each against TFX's).
"""

# Artifact types (tfx.types.standard_artifacts.<Class>.TYPE_NAME), and ours (report/component.py).
EXAMPLES = 'Examples'
EXAMPLE_STATISTICS = 'ExampleStatistics'
EXAMPLE_ANOMALIES = 'ExampleAnomalies'
SCHEMA = 'Schema'
TRANSFORM_GRAPH = 'TransformGraph'
TRANSFORM_CACHE = 'TransformCache'
MODEL = 'Model'
MODEL_EVALUATION = 'ModelEvaluation'
MODEL_BLESSING = 'ModelBlessing'
PUSHED_MODEL = 'PushedModel'
HTML_REPORT = 'fashion_pipeline.HtmlReport'  # namespaced, as Kubeflow v2 requires
REPORT_FILE = 'report.html'  # in an HtmlReport's folder

# Artifact properties. ExampleGen's span of its Examples (Transform's transformed examples, of
# the same type, have none); the Evaluator's verdict and the model it judged; the Pusher's
# (private in TFX's Pusher executor). The data gate's are in fashion_mnist/gate.py.
SPAN = 'span'
BLESSED = 'blessed'
CURRENT_MODEL_ID = 'current_model_id'
PUSHED = 'pushed'
PUSHED_DESTINATION = 'pushed_destination'
PUSHED_VERSION = 'pushed_version'

# Ours, on a pipeline_run context: the fingerprint of everything the run's results depend on
# (pipeline/fingerprint.py), recorded after a run that exits 0 (mlmd/run_fingerprint.py).
RUN_FINGERPRINT = 'fashion_pipeline_fingerprint'

# Ours, on artifacts retention removed or found without their files (mlmd/retention.py): why.
REMOVED = 'removed'
REMOVED_BY_RETENTION = 'by retention'
REMOVED_FILES_MISSING = 'files missing'

# Execution properties (tfx.types.standard_component_specs): the Trainer's settings.
CUSTOM_CONFIG = 'custom_config'

# Event keys (tfx.types.standard_component_specs): the inputs and outputs the lineage follows.
EXAMPLES_KEY = 'examples'
STATISTICS_KEY = 'statistics'
MODEL_KEY = 'model'
BASELINE_MODEL_KEY = 'baseline_model'
BASE_MODEL_KEY = 'base_model'
TRANSFORM_GRAPH_KEY = 'transform_graph'
SCHEMA_KEY = 'schema'
ANALYZER_CACHE_KEY = 'analyzer_cache'

# Context types TFX's orchestrator records, and the execution type of its resolver nodes
# (tfx.dsl.components.common.resolver.Resolver.get_class_type()).
PIPELINE_CONTEXT = 'pipeline'
RUN_CONTEXT = 'pipeline_run'
NODE_CONTEXT = 'node'
RESOLVER_EXECUTION_TYPE = 'tfx.dsl.components.common.resolver.Resolver'

# Component ids the read side looks for (pipeline/pipeline.py gives them).
PUSHER = 'Pusher'
TRAINER = 'Trainer'
RUN_REPORT = 'RunReport'

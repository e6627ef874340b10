"""Rewrites a recorded run's HTML report on demand (`fashion-pipeline report`), from the same
artifacts the run's RunReport component used, as ML Metadata recorded them."""

from pathlib import Path
from typing import Optional

from ml_metadata.proto import metadata_store_pb2
from tfx.types import artifact_utils

from mlmd import names
from mlmd import store as mlmd_store
from pipeline import configs
from pipeline.configs import PipelineConfig
from report import component as report_component


def rewrite(config: PipelineConfig, run_id: Optional[str], out: Optional[Path]) -> Path:
  """Writes the report of run_id (default: the newest run) to out (default:
  OUTPUT_DIR/reports/<run id>.html); returns the path."""
  store = mlmd_store.open_store(config)
  run = mlmd_store.find_run(store, config, run_id)
  executions = [e for component_id, e in mlmd_store.component_executions(store, run)
                if component_id == names.RUN_REPORT]
  if not executions:
    raise LookupError(f'run {run.name} did not get as far as its report')
  execution = executions[0]
  types_by_id = {t.id: t for t in store.get_artifact_types()}
  inputs = {
      key: [artifact_utils.deserialize_artifact(types_by_id[a.type_id], a) for a in artifacts]
      for key, artifacts in mlmd_store.artifacts_of(
          store, execution.id, metadata_store_pb2.Event.INPUT).items()
  }
  recorded = execution.custom_properties
  exec_properties = {
      report_component.DATA_SOURCE: recorded[report_component.DATA_SOURCE].string_value,
      report_component.ACCURACY_THRESHOLD:
          recorded[report_component.ACCURACY_THRESHOLD].double_value,
      # The store read here, also for runs recorded before the report had a history section.
      report_component.HISTORY_SOURCE: report_component.history_source(config),
  }
  out = Path(out or config.output_dir / configs.REPORTS_DIR / f'{run.name}.html').absolute()
  report_component.write_report(
      report_component.run_artifacts(inputs, exec_properties, run.name), str(out))
  return out

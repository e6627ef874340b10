"""`runs` and `lineage` on a generated store of hundreds of runs as the pipeline records them
(tests/metadata_builder.py generate_history): killed runs said to be killed, removed files said
to be removed, no TensorFlow imported, and the bulk reads equal to ML Metadata's own per-run
answers."""

import ast
import json
import subprocess
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2

from metadata_builder import MetadataBuilder, generate_history
from mlmd import run_summary
from mlmd import store as mlmd_store
from pipeline import configs
from helpers import REPO_ROOT

RUNS, KEEP = 200, 50  # generated in about 25 s


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
  root = tmp_path_factory.mktemp('history')
  run_ids = generate_history(root, runs=RUNS, keep=KEEP)
  return configs.build(output_dir=root, environ={}), run_ids


def _cli(*args):
  return subprocess.run([sys.executable, str(REPO_ROOT / 'pipeline_runner.py'), *args],
                        capture_output=True, text=True, check=False, cwd=REPO_ROOT)


def test_runs_and_lineage_of_hundreds_of_runs_import_no_tensorflow(generated):
  config, run_ids = generated
  summaries = run_summary.history(config)
  versions = [s.pushed_version for s in summaries if s.pushed_version]
  script = f'''
import sys
import pipeline_runner
for argv in (['runs', '--output-dir', {str(config.output_dir)!r}],
             ['lineage', {versions[0]!r}, '--output-dir', {str(config.output_dir)!r}],
             ['lineage', {versions[-1]!r}, '--output-dir', {str(config.output_dir)!r}]):
  assert pipeline_runner.main(argv) == 0, argv
print(sorted(sys.modules))
'''
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          check=False, cwd=REPO_ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  *printed, imported = result.stdout.splitlines()
  assert not set(ast.literal_eval(imported)) & {'tensorflow', 'tfx', 'tensorflow_model_analysis',
                                                'apache_beam'}
  table = printed[:RUNS + 1]
  assert [line.split()[0] for line in table[1:]] == run_ids
  # The oldest version's files were removed; its record still tells where it came from.
  oldest = printed[RUNS + 1:]
  assert oldest[0].endswith(f'/serving/{versions[0]} (removed)')
  assert '  evaluated: accuracy unknown (evaluation removed), blessed' in oldest[5]
  newest = printed[printed.index(next(line for line in printed
                                      if line.startswith(f'Model version {versions[-1]}:'))):]
  assert not any('(removed)' in line for line in newest)


def test_killed_runs_and_removed_files_are_told_apart(generated):
  config, _ = generated
  summaries = run_summary.history(config)
  by_kind = {}
  for summary in summaries:
    by_kind.setdefault(summary.status, []).append(summary)
  assert set(by_kind) == {'complete', 'killed'}
  # A tenth of the runs was killed in the Trainer, a tenth between Transform and the Trainer.
  killed = [s.states() for s in by_kind['killed']]
  assert len(killed) == RUNS // 5
  assert sum(text.endswith('killed in Trainer') for text in killed) == RUNS // 10
  assert sum(text.endswith('killed after Transform') for text in killed) == RUNS // 10
  assert not any(s.states().startswith('all ran') for s in by_kind['killed'])
  old, recent = summaries[:RUNS - KEEP], summaries[RUNS - KEEP:]
  trained_old = [s for s in old if s.state_of('Evaluator')]
  assert all(s.accuracy is None and 'evaluation' in s.removed for s in trained_old)
  assert all(s.blessed is not None for s in trained_old)  # the blessing's record stays
  assert all(s.pushed_removed for s in old if s.pushed_version)
  assert not any(s.removed or s.pushed_removed for s in recent)
  assert all(s.accuracy is not None for s in recent if s.state_of('Evaluator'))
  line = run_summary.format_table(trained_old[:1]).splitlines()[1]
  assert 'removed' in line.split() and line.endswith('files removed')


def test_runs_json_names_the_labels_the_text_shows(generated, tmp_path):
  config, _ = generated
  version = next(s.pushed_version for s in reversed(run_summary.history(config))
                 if s.pushed_version)
  config_file = config.output_dir / 'models.config'
  config_file.write_text(
      f'model_config_list {{ config {{ name: "fashion" base_path: "{config.serving_dir}" '
      'model_platform: "tensorflow" model_version_policy { all {} } '
      f'version_labels {{ key: "stable" value: {version} }} }} }}')
  (config.serving_dir / version).mkdir(parents=True)
  try:
    runs = _cli('runs', '--output-dir', str(config.output_dir), '--json')
    assert runs.returncode == 0, runs.stderr[-3000:]
    labelled = [run for run in json.loads(runs.stdout) if run['labels']]
    assert {(run['pushed_version'], tuple(run['labels'])) for run in labelled} == {
        (version, ('stable',))}
    found = _cli('lineage', version, '--output-dir', str(config.output_dir), '--json')
    assert found.returncode == 0, found.stderr[-3000:]
    assert json.loads(found.stdout)['labels'] == ['stable']
  finally:
    config_file.unlink()
    (config.serving_dir / version).rmdir()


def test_the_bulk_read_is_what_ml_metadata_answers_per_run(generated):
  config, _ = generated
  store = mlmd_store.open_store(config)
  runs = mlmd_store.pipeline_runs(store, config)
  found = mlmd_store.history(store, config, runs)
  for run in runs[::17]:
    assert [(c, e.id) for c, e in found.executions[run.id]] == [
        (c, e.id) for c, e in mlmd_store.component_executions(store, run)]
    for _, execution in found.executions[run.id]:
      if execution.type != 'tfx.dsl.components.common.resolver.Resolver':
        expected = mlmd_store.artifacts_of(store, execution.id, metadata_store_pb2.Event.OUTPUT)
        assert {k: [a.id for a in v] for k, v in expected.items()} == {
            event.path.steps[0].key: [a.id for e, a in found.artifacts_of(execution.id)
                                      if e.type == event.type
                                      and e.path.steps[0].key == event.path.steps[0].key]
            for event, _ in found.artifacts_of(execution.id)
            if event.type == metadata_store_pb2.Event.OUTPUT}


@pytest.mark.parametrize('alive, states', [
    (True, '1 ran, running: Trainer'),  # its process holds the run lock: still going
    (False, '1 ran, killed in Trainer'),  # the lock file a killed run left names a dead pid
])
def test_a_run_with_a_running_execution_is_running_only_while_its_process_lives(
    tmp_path, alive, states):
  config = configs.build(output_dir=tmp_path, environ={})
  builder = MetadataBuilder(config.metadata_path)
  builder.execution('FileBasedExampleGen', run_id='run-1')
  builder.execution('Trainer', state=metadata_store_pb2.Execution.RUNNING, run_id='run-1')
  finished = subprocess.Popen(['true'])  # a pid no longer alive
  finished.wait()
  config.lock_path.write_text(json.dumps({'pid': 1 if alive else finished.pid, 'started': '',
                                          'command': 'fashion-pipeline run'}))
  (summary,) = run_summary.history(config)
  assert summary.states() == states
  assert summary.status == ('running' if alive else 'killed')
  config.lock_path.unlink()  # no lock file: no run alive
  assert run_summary.summarize(config).states() == '1 ran, killed in Trainer'

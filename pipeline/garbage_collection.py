"""Removes what retention lets go: `fashion-pipeline gc`, and `run --retain-runs/--retain-versions`
at the end of every run. No TensorFlow: files are local (a gs:// pipeline root is not collected).

In: the pipeline's configuration, with how many runs and serving versions to keep (its
retain_runs and retain_versions; None: all), and whether this is a dry run; called under the
output dir's run lock (pipeline/run_lock.py), so no run is reading what goes.
Out: a Collection saying what went (or would go) and how many bytes.

What goes (mlmd/retention.py decides what is kept):
- the files of the LIVE artifacts that nothing still needs, marked DELETED in ML Metadata;
- old serving versions beyond the newest N, never one that a label of OUTPUT_DIR/models.config
  names, nor the newest; their PushedModel records are DELETED with them;
- the copies `fashion-pipeline report` wrote (OUTPUT_DIR/reports/<run id>.html) of runs not
  kept, and TFX's per-execution scratch folders (<component>/.system/executor_execution/<id>);
- leftovers: any folder of the pipeline root's artifact layout (<component>/<output>/<id>) that
  no LIVE artifact owns (a killed run's unfinished outputs; a killed gc's unfinished removals),
  and hidden `.<version>.removed` serving folders.
TensorBoard logs (Trainer/model_run) are an artifact of their run and go with it. Beam leaves no
temp dirs here: the DirectRunner runs in memory and TFX's sdist for workers is skipped
(pipeline/beam_packaging.py).

Order, and why: ML Metadata first, files after, ML Metadata again (ML Metadata's own protocol).
The artifacts are marked MARKED_FOR_DELETION in one transaction before a byte of them goes, then
DELETED when their files are gone. Any state other than LIVE keeps them from every resolver and
from TFX's cache, so a gc killed at any point (kill -9 included) leaves no LIVE artifact with
files missing; the next gc (or the next run's retention) finds the MARKED_FOR_DELETION ones,
finishes removing their files and marks them DELETED. The other order would leave LIVE artifacts
half-removed, which a run started before the next gc would resolve or cache-hit. A serving
version is first renamed to a hidden name (one rename: a model server polling the dir sees the
version go at once, never half of it), then removed.
"""

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Iterable, List, Set

from mlmd import names
from mlmd import retention
from mlmd import store as mlmd_store
from mlmd.store import Artifact
from pipeline import configs
from pipeline.configs import PipelineConfig
from serving import model_config

_REMOVED_SUFFIX = '.removed'  # a serving version on its way out: hidden, not a number
_SCRATCH = ('.system', 'executor_execution')  # TFX's per-execution folders in a component's
_SCRATCH_ITEM = 'scratch'


@dataclasses.dataclass(frozen=True)
class Item:
  what: str  # e.g. 'Model 8', 'serving version 1796192611', 'leftover'
  path: Path
  size: int  # bytes


@dataclasses.dataclass(frozen=True)
class Collection:
  """What a gc removed, or with dry_run would remove."""
  items: List[Item]
  lost: List[Artifact]  # LIVE artifacts found without their files (marked DELETED unless dry_run)
  runs_kept: List[str]
  versions_kept: List[str]
  dry_run: bool

  @property
  def size(self) -> int:
    return sum(item.size for item in self.items)

  def format(self, details: bool = True) -> str:
    """What went and how many bytes; with details, one line per item."""
    verb = 'Would remove' if self.dry_run else 'Removed'
    lines = [f'{verb} {len(self.items)} items, {_bytes(self.size)}; kept the last '
             f'{len(self.runs_kept)} runs and serving versions '
             f'{", ".join(self.versions_kept) or "none"}']
    if details:
      lines += [f'  {item.what}: {item.path} ({_bytes(item.size)})' for item in self.items
                if item.what != _SCRATCH_ITEM]
      scratch = [item for item in self.items if item.what == _SCRATCH_ITEM]
      if scratch:
        lines.append(f'  {len(scratch)} scratch folders of TFX executions '
                     f'({_bytes(sum(item.size for item in scratch))})')
    if self.lost:
      lines.append(f'{"Would mark" if self.dry_run else "Marked"} DELETED (files missing): ' +
                   ', '.join(f'{a.type} {a.id}' for a in self.lost))
    return '\n'.join(lines)


def _bytes(size: int) -> str:
  for unit in ('bytes', 'kB', 'MB'):
    if size < 1000 or unit == 'MB':
      return f'{size} {unit}' if unit == 'bytes' else f'{size:.1f} {unit}'
    size /= 1000
  raise AssertionError('unreachable')


def _size(path: Path) -> int:
  if path.is_file() or path.is_symlink():
    return path.lstat().st_size
  return sum((Path(root) / name).lstat().st_size
             for root, _, files in os.walk(path) for name in files)


def _remove(path: Path) -> None:
  if path.is_dir() and not path.is_symlink():
    shutil.rmtree(path)
  elif path.exists() or path.is_symlink():
    path.unlink()


def _versions_on_disk(serving_dir: Path) -> List[str]:
  return [p.name for p in serving_dir.iterdir() if p.name.isdigit()] if serving_dir.is_dir() else []


def _leftovers(pipeline_root: Path, live_uris: Set[Path], kept_executions: Set[int],
               serving_dir: Path) -> List[Item]:
  """Folders no LIVE artifact owns in the pipeline root's <component>/<output>/<id> layout, TFX's
  scratch folders of executions not kept, and hidden serving folders of an unfinished removal."""
  found = []
  components = [p for p in pipeline_root.iterdir() if p.is_dir()] if pipeline_root.is_dir() else []
  for component in components:
    for output in (p for p in component.iterdir() if p.is_dir() and p.name != _SCRATCH[0]):
      found += [Item('leftover', p, _size(p)) for p in output.iterdir()
                if p.name.isdigit() and p.absolute() not in live_uris]
    scratch = component.joinpath(*_SCRATCH)
    if scratch.is_dir():
      found += [Item(_SCRATCH_ITEM, p, _size(p)) for p in scratch.iterdir()
                if not (p.name.isdigit() and int(p.name) in kept_executions)]
  if serving_dir.is_dir():
    found += [Item('leftover', p, _size(p)) for p in serving_dir.iterdir()
              if p.name.startswith('.') and p.name.endswith(_REMOVED_SUFFIX)]
  return found


def _reports(output_dir: Path, runs_kept: Iterable[str]) -> List[Item]:
  folder = output_dir / configs.REPORTS_DIR
  if not folder.is_dir():
    return []
  kept = {f'{run}.html' for run in runs_kept}
  return [Item('report', p, _size(p)) for p in folder.glob('*.html') if p.name not in kept]


def collect(config: PipelineConfig, dry_run: bool = False) -> Collection:
  """Removes (with dry_run, only lists) what retention lets go; see the module's docstring.
  LookupError when config's metadata file records no run."""
  if '://' in str(config.pipeline_root) or '://' in str(config.serving_dir):
    raise configs.ConfigError('gc removes local files only; the pipeline root and serving dir '
                              f'must be local paths, not {config.pipeline_root}, '
                              f'{config.serving_dir}')
  mlmd_store.open_store(config)  # LookupError, naming the file, when there is none
  store = mlmd_store.connect(config.metadata_path, writable=not dry_run)
  lost = retention.lost_artifacts(store, config)
  if not dry_run:
    retention.set_state(store, lost, Artifact.DELETED, names.REMOVED_FILES_MISSING)
  serving_dir = Path(config.serving_dir)
  labelled = model_config.labels_by_version(
      config.output_dir / model_config.MODEL_CONFIG_FILE, serving_dir)
  plan = retention.plan(store, config, config.retain_runs, config.retain_versions,
                        _versions_on_disk(serving_dir), labelled)
  removed_ids = {a.id for a in plan.artifacts}
  artifacts = retention.pipeline_artifacts(store, config)
  live_uris = {Path(a.uri).absolute() for a in artifacts
               if a.state == Artifact.LIVE and a.id not in removed_ids}
  # What a killed gc had begun to remove.
  unfinished = [a for a in artifacts if a.state == Artifact.MARKED_FOR_DELETION]
  kept_executions = {e.id for run in mlmd_store.pipeline_runs(store, config)
                     if run.name in plan.runs_kept
                     for e in store.get_executions_by_context(run.id)}
  artifact_items = [Item(f'{a.type} {a.id}', Path(a.uri), _size(Path(a.uri)))
                    for a in unfinished + plan.artifacts]
  version_items = [Item('serving version', serving_dir / v, _size(serving_dir / v))
                   for v in plan.versions]
  planned = {item.path.absolute() for item in artifact_items}
  other_items = [item for item in _leftovers(Path(config.pipeline_root), live_uris,
                                             kept_executions, serving_dir)
                 if item.path.absolute() not in planned]
  other_items += _reports(config.output_dir, plan.runs_kept)
  collection = Collection(items=artifact_items + version_items + other_items, lost=lost,
                          runs_kept=plan.runs_kept, versions_kept=plan.versions_kept,
                          dry_run=dry_run)
  if dry_run:
    return collection
  # First ML Metadata, then the files, then ML Metadata again: see the docstring.
  retention.set_state(store, plan.artifacts, Artifact.MARKED_FOR_DELETION,
                      names.REMOVED_BY_RETENTION)
  for item in artifact_items:
    _remove(item.path)
  retention.set_state(store, unfinished + plan.artifacts, Artifact.DELETED,
                      names.REMOVED_BY_RETENTION)
  for item in version_items:
    hidden = item.path.with_name(f'.{item.path.name}{_REMOVED_SUFFIX}')
    item.path.rename(hidden)
    _remove(hidden)
  for item in other_items:
    _remove(item.path)
  return collection


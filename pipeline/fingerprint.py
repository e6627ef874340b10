"""The fingerprint of everything a run's results depend on, so that `run` can tell, before anything
imports TensorFlow, that nothing at all changed since the last run (pipeline_runner.py).

In: the pipeline's configuration and its resolved data dir (None with --examples-dir); the project
root (default: this clone). Out: `of_run`, the sha256 hex digest of
- the configuration's fields, but those left out below (_LEFT_OUT, each saying why);
- the input files a run may read, by path, size and mtime_ns, as TFX's FileBasedExampleGen driver
  fingerprints its inputs: each file of the flat data dir or of the span folders of the training
  window, or every file under --examples-dir. No data file is read: the whole takes a few ms;
- the schema files (schemas/ and the configured one) by content;
- the project's code by content: pipeline_runner.py, pyproject.toml, every .py file of the packages
  pyproject.toml lists (setuptools' find: include and exclude patterns from the root down), and the
  running stack's lock;
- the stack: Python's version and the installed versions of TFX, TensorFlow and the rest, from the
  packages' metadata (fashion_mnist/stack.py).
None when that cannot be known cheaply and for sure: --examples-dir is a URI (listing it needs
TensorFlow's filesystems), or the code is not a whole checkout (the packages copied elsewhere
without pyproject.toml or the lock), or a file went while it was looked at.
"""

import dataclasses
import fnmatch
import hashlib
import json
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional

if sys.version_info >= (3, 11):
  import tomllib
else:  # Python 3.10 (the legacy stack): its lock has tomli, the same parser before the stdlib's
  import tomli as tomllib

from fashion_mnist import stack
from pipeline import spans
from pipeline.configs import PipelineConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = 'schemas'

# Fields of PipelineConfig that do not change what a run produces.
_LEFT_OUT = frozenset({
    # They act only after the run, on what the runs left (pipeline/garbage_collection.py).
    'retain_runs', 'retain_versions',
    # Only where missing data files are downloaded from: the download is checked against fixed
    # checksums (pipeline/data_source.py), so every mirror gives the same bytes, and the files
    # themselves are in the fingerprint.
    'mirror_url',
    # Its content is in the fingerprint (with schemas/); where it lies does not matter to a run:
    # the pipeline imports the schema by content (components/schema_import.py), so a moved clone
    # stays cached.
    'schema_file',
})


def _file_stats(paths: Iterable[Path]) -> List[list]:
  """[path, size, mtime_ns] of each file; a symlink's by its target, as a reader sees it."""
  stats = []
  for path in sorted(paths):
    stat = path.stat()
    stats.append([str(path), stat.st_size, stat.st_mtime_ns])
  return stats


def _input_files(config: PipelineConfig, data_dir: Optional[Path]) -> List[list]:
  if config.examples_dir is not None:
    return _file_stats(path for path in Path(config.examples_dir).rglob('*') if path.is_file())
  return _file_stats(path for folder in spans.window_dirs(data_dir, config.num_spans)
                     for path in folder.iterdir() if path.is_file())


def _contents(root: Path, paths: Iterable[Path]) -> Dict[str, str]:
  """sha256 of each file's content, by its path relative to root (a moved clone is the same code,
  as TFX's cache sees it) or, outside root, its absolute path."""
  return {str(path.relative_to(root) if path.is_relative_to(root) else path):
          hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(set(paths))}


def _matches(name: str, patterns: Iterable[str]) -> bool:
  return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _package_dirs(root: Path, include: List[str], exclude: List[str]) -> List[Path]:
  """The folders of the packages setuptools' `packages.find` finds under root: folders with an
  __init__.py reached through packages only, whose dotted names match include and not exclude."""
  found, pending = [], [root]
  while pending:
    for path in sorted(pending.pop().iterdir()):
      if path.is_dir() and '.' not in path.name and (path / '__init__.py').is_file():
        name = '.'.join(path.relative_to(root).parts)
        if _matches(name, include) and not _matches(name, exclude):
          found.append(path)
        pending.append(path)
  return found


def _code_files(root: Path) -> List[Path]:
  pyproject = root / 'pyproject.toml'
  setuptools = tomllib.loads(pyproject.read_text(encoding='utf-8'))['tool']['setuptools']
  find = setuptools.get('packages', {}).get('find', {})
  modules = [root / f'{module}.py' for module in setuptools.get('py-modules', [])]
  packages = _package_dirs(root, find.get('include', ['*']), find.get('exclude', []))
  locks = [root / lock for lock in stack.LOCK_FILES.get(stack.stack_name(), ())]
  return [pyproject, *modules, *locks,
          *(path for package in packages for path in package.glob('*.py'))]


def of_run(config: PipelineConfig, data_dir: Optional[Path],
           project_root: Path = PROJECT_ROOT) -> Optional[str]:
  """The fingerprint of a run of config on data_dir (see the module's docstring), or None."""
  if config.examples_dir is not None and '://' in str(config.examples_dir):
    return None
  settings = {name: value for name, value in dataclasses.asdict(config).items()
              if name not in _LEFT_OUT}
  schemas = project_root / SCHEMAS_DIR
  try:
    parts = {
        'config': settings,
        'inputs': _input_files(config, data_dir),
        'schemas': _contents(project_root, [config.schema_file, *(
            path for path in schemas.iterdir() if path.is_file())]),
        'code': _contents(project_root, _code_files(project_root)),
        'stack': stack.versions(),
    }
  except FileNotFoundError:  # not a whole checkout, or a file removed as it was looked at
    return None
  return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

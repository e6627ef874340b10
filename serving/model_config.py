"""TF Serving's model config file (a ModelServerConfig in protobuf text format), version policies,
and the label edits of `fashion-pipeline promote` and `rollback`.

In: a config file (`model_config_list { config { name base_path model_platform
model_version_policy version_labels } }`, read with the protos tensorflow-serving-api ships), or
the command line's --model-dir, --model-name and --version-policy. Out: ModelSpecs (frozen), or a
ConfigError naming the file, the model and the field. Edits rewrite the file atomically (a
temporary file in the same folder, renamed over it), so a server polling it never reads half a
file; each promote is also appended to `<file>.history` (JSON lines), which rollback reads back.
Pure protobuf: `promote`, `rollback`, `runs` and `lineage` use this without importing TensorFlow.
"""

import dataclasses
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

from google.protobuf import text_format
from tensorflow_serving.config import file_system_storage_path_source_pb2
from tensorflow_serving.config import model_server_config_pb2

TENSORFLOW_PLATFORM = 'tensorflow'
DEFAULT_VERSION_POLICY = 'latest:1'  # TF Serving's default
DEFAULT_LABEL = 'stable'
# promote's default, in the output dir; runs and lineage read it
MODEL_CONFIG_FILE = 'models.config'
HISTORY_SUFFIX = '.history'
_VERSION_NAME = re.compile(r'[0-9]+')
# Labels and model names go into URL paths: /v1/models/{name}/labels/{label}.
_LABEL = re.compile(r'[A-Za-z0-9_.-]+')

_Policy = (file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig
           .ServableVersionPolicy)


class ConfigError(ValueError):
  """A setting or argument of `serve`, `predict`, `promote` or `rollback` (a port, a model dir,
  a config file, an image file, a label) cannot be used; the message names it and says why."""


def list_versions(model_dir: Path) -> Dict[int, Path]:
  """The version folders under model_dir, by version number; {} if model_dir is missing."""
  try:
    names = os.listdir(model_dir)
  except FileNotFoundError:
    return {}
  return {int(name): model_dir / name for name in names
          if _VERSION_NAME.fullmatch(name) and (model_dir / name).is_dir()}


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
  """Which of the versions on disk are served, as TF Serving's ServableVersionPolicy."""
  kind: str  # 'latest', 'all' or 'specific'
  count: int = 1  # for latest
  versions: FrozenSet[int] = frozenset()  # for specific

  def select(self, on_disk: Iterable[int]) -> FrozenSet[int]:
    on_disk = sorted(on_disk, reverse=True)
    if self.kind == 'latest':
      return frozenset(on_disk[:self.count])
    if self.kind == 'all':
      return frozenset(on_disk)
    return frozenset(v for v in on_disk if v in self.versions)

  def text(self) -> str:
    if self.kind == 'latest':
      return f'latest:{self.count}'
    if self.kind == 'all':
      return 'all'
    return 'specific:' + ','.join(str(v) for v in sorted(self.versions))

  def to_proto(self) -> _Policy:
    policy = _Policy()
    if self.kind == 'latest':
      policy.latest.num_versions = self.count
    elif self.kind == 'all':
      policy.all.SetInParent()
    else:
      policy.specific.versions.extend(sorted(self.versions))
    return policy

  @classmethod
  def from_proto(cls, policy: _Policy, where: str) -> 'VersionPolicy':
    kind = policy.WhichOneof('policy_choice')
    if kind is None:
      return parse_policy(DEFAULT_VERSION_POLICY)
    if kind == 'latest':  # TF Serving: num_versions unset (0) means 1
      return cls('latest', count=policy.latest.num_versions or 1)
    if kind == 'all':
      return cls('all')
    if not policy.specific.versions:
      raise ConfigError(f'{where}: model_version_policy specific needs at least one version')
    return cls('specific', versions=frozenset(policy.specific.versions))


def parse_policy(text: str) -> VersionPolicy:
  """--version-policy: `latest:N`, `all` or `specific:V1,V2,...`."""
  kind, _, value = text.partition(':')
  try:
    if kind == 'latest' and int(value) >= 1:
      return VersionPolicy('latest', count=int(value))
    if kind == 'all' and not value:
      return VersionPolicy('all')
    if kind == 'specific' and value:
      versions = frozenset(int(v) for v in value.split(','))
      if min(versions) >= 0:
        return VersionPolicy('specific', versions=versions)
  except ValueError:
    pass
  raise ConfigError(f'version policy must be latest:N (N >= 1), all or specific:V1,V2,... (version '
                    f'numbers), not {text!r}')


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One served model: its name, serving dir, version policy and labels."""
  name: str
  base_path: Path
  policy: VersionPolicy
  labels: Mapping[str, int] = dataclasses.field(default_factory=dict)

  def to_proto(self) -> model_server_config_pb2.ModelConfig:
    config = model_server_config_pb2.ModelConfig(
        name=self.name, base_path=str(self.base_path), model_platform=TENSORFLOW_PLATFORM)
    config.model_version_policy.CopyFrom(self.policy.to_proto())
    for label, version in sorted(self.labels.items()):
      config.version_labels[label] = version
    return config


def check_labels(spec: 'ModelSpec', where: str) -> None:
  """Every label names a version on disk that the policy serves: TF Serving refuses a config whose
  labels name versions it will not load."""
  on_disk = list_versions(spec.base_path)
  served = spec.policy.select(on_disk)
  for label, version in sorted(spec.labels.items()):
    if version not in served:
      why = ('is not in ' + str(spec.base_path) if version not in on_disk
             else f'is not served under the policy {spec.policy.text()}')
      raise ConfigError(f'{where} (model "{spec.name}"): version label "{label}" names version '
                        f'{version}, which {why}')


def check_model_name(name: str, where: str = 'model name') -> None:
  if not _LABEL.fullmatch(name):
    raise ConfigError(f'{where} must be letters, digits, "_", "-" or ".", not {name!r}')


def _spec_from_proto(config: model_server_config_pb2.ModelConfig, where: str) -> ModelSpec:
  check_model_name(config.name, f'{where}: name')
  where = f'{where} (model "{config.name}")'
  if not config.base_path:
    raise ConfigError(f'{where}: base_path is empty')
  if config.model_platform not in ('', TENSORFLOW_PLATFORM):
    raise ConfigError(f'{where}: model_platform must be "{TENSORFLOW_PLATFORM}", not '
                      f'"{config.model_platform}"')
  for label, version in config.version_labels.items():
    check_model_name(label, f'{where}: version label')
    if version < 0:
      raise ConfigError(f'{where}: version label "{label}" names version {version}')
  return ModelSpec(config.name, Path(config.base_path).expanduser().absolute(),
                   VersionPolicy.from_proto(config.model_version_policy, where),
                   dict(config.version_labels))


def parse(text: str, where: str) -> Tuple[ModelSpec, ...]:
  """The models of a ModelServerConfig's text; where (the file name) prefixes every error."""
  config = model_server_config_pb2.ModelServerConfig()
  try:
    text_format.Parse(text, config)
  except text_format.ParseError as e:
    raise ConfigError(f'{where}: not a ModelServerConfig in text format: {e}') from e
  if config.WhichOneof('config') != 'model_config_list':
    raise ConfigError(f'{where}: needs model_config_list (custom_model_config is not supported)')
  specs = tuple(_spec_from_proto(c, where) for c in config.model_config_list.config)
  if not specs:
    raise ConfigError(f'{where}: model_config_list has no model')
  names = [spec.name for spec in specs]
  if len(set(names)) != len(names):
    raise ConfigError(f'{where}: a model name appears more than once: {names}')
  return specs


def read(path: Path) -> Tuple[ModelSpec, ...]:
  try:
    text = path.read_text()
  except OSError as e:
    raise ConfigError(f'model config file {path} cannot be read: {e.strerror}') from e
  return parse(text, str(path))


def to_text(specs: Iterable[ModelSpec]) -> str:
  config = model_server_config_pb2.ModelServerConfig()
  config.model_config_list.config.extend(spec.to_proto() for spec in specs)
  return text_format.MessageToString(config)


def _write_atomically(path: Path, text: str) -> None:
  with tempfile.NamedTemporaryFile('w', dir=path.parent, prefix=f'.{path.name}.',
                                   delete=False) as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
  os.replace(f.name, path)


def labels_by_version(path: Path, serving_dir) -> Dict[str, List[str]]:
  """The labels of the config file's models served from serving_dir, by version (a folder name):
  what `runs` and `lineage` show beside the versions. {} when there is no config file."""
  if not path.is_file():
    return {}
  found: Dict[str, List[str]] = {}
  for spec in read(path):
    if spec.base_path == Path(serving_dir).absolute():
      for label, version in sorted(spec.labels.items()):
        found.setdefault(str(version), []).append(label)
  return found


@dataclasses.dataclass(frozen=True)
class LabelChange:
  path: Path
  model_name: str
  label: str
  previous: Optional[int]
  version: int

  def __str__(self) -> str:
    before = 'unset' if self.previous is None else self.previous
    return (f'label "{self.label}" of model "{self.model_name}": {before} -> {self.version} '
            f'({self.path})')


def _pick(specs: Tuple[ModelSpec, ...], model_name: Optional[str], path: Path) -> ModelSpec:
  if model_name is None and len(specs) == 1:
    return specs[0]
  names = [spec.name for spec in specs]
  if model_name is None:
    raise ConfigError(f'{path} has several models ({", ".join(names)}): say which (--model-name)')
  for spec in specs:
    if spec.name == model_name:
      return spec
  raise ConfigError(f'{path} has no model "{model_name}" (it has {", ".join(names)})')


def _with_label(spec: ModelSpec, label: str, version: int) -> ModelSpec:
  """The spec with the label moved; a specific policy also gets the version, so it is loaded."""
  on_disk = list_versions(spec.base_path)
  if version not in on_disk:
    raise ConfigError(f'model "{spec.name}" has no version {version} in {spec.base_path} (it has '
                      f'{", ".join(map(str, sorted(on_disk))) or "none"})')
  policy = spec.policy
  if policy.kind == 'specific':
    policy = dataclasses.replace(policy, versions=policy.versions | {version})
  elif version not in policy.select(on_disk):
    raise ConfigError(f'version {version} of model "{spec.name}" is not served under its policy '
                      f'{policy.text()}: a label may only name a loaded version')
  return dataclasses.replace(spec, policy=policy, labels={**spec.labels, label: version})


def _replace_spec(path: Path, specs: Tuple[ModelSpec, ...], new: ModelSpec) -> None:
  _write_atomically(path, to_text(new if s.name == new.name else s for s in specs))


def _history(path: Path) -> List[dict]:
  history_path = Path(str(path) + HISTORY_SUFFIX)
  if not history_path.is_file():
    return []
  return [json.loads(line) for line in history_path.read_text().splitlines() if line.strip()]


def _write_history(path: Path, entries: List[dict]) -> None:
  _write_atomically(Path(str(path) + HISTORY_SUFFIX),
                    ''.join(json.dumps(entry) + '\n' for entry in entries))


def promote(path: Path, version: int, label: str, model_name: Optional[str] = None,
            model_dir: Optional[Path] = None) -> LabelChange:
  """Points the label at the version; creates the file (one model, name and model_dir given,
  policy specific) when it does not exist yet."""
  check_model_name(label, 'label')
  if path.exists():
    specs = read(path)
  elif model_dir is None or model_name is None:
    raise ConfigError(f'model config file {path} does not exist (give --model-dir to create it)')
  else:
    check_model_name(model_name)
    specs = (ModelSpec(model_name, model_dir.expanduser().absolute(),
                       VersionPolicy('specific', versions=frozenset([version]))),)
  spec = _pick(specs, model_name, path)
  previous = spec.labels.get(label)
  new = _with_label(spec, label, version)
  _replace_spec(path, specs, new)
  _write_history(path, _history(path) + [{
      'model': spec.name, 'label': label, 'previous': previous, 'version': version,
      'time': time.strftime('%Y-%m-%dT%H:%M:%S%z')}])
  return LabelChange(path, spec.name, label, previous, version)


def rollback(path: Path, label: str, model_name: Optional[str] = None) -> LabelChange:
  """Points the label back at the version it named before its last promote (repeatable: each
  rollback undoes one more promote)."""
  specs = read(path)
  spec = _pick(specs, model_name, path)
  current = spec.labels.get(label)
  history = _history(path)
  for i in range(len(history) - 1, -1, -1):
    entry = history[i]
    if entry['model'] == spec.name and entry['label'] == label:
      break
  else:
    raise ConfigError(f'{path}: label "{label}" of model "{spec.name}" was never promoted: '
                      'nothing to roll back')
  if entry['version'] != current or entry['previous'] is None:
    raise ConfigError(f'{path}: label "{label}" of model "{spec.name}" names {current}, and its '
                      f'last promote set {entry["version"]} from '
                      f'{entry["previous"] or "unset"}: nothing to roll back to')
  _replace_spec(path, specs, _with_label(spec, label, entry['previous']))
  _write_history(path, history[:i] + history[i + 1:])
  return LabelChange(path, spec.name, label, current, entry['previous'])

"""The fingerprint of a run follows exactly what its results depend on: the options (not the
retention settings), the input files' sizes and times, the schema, the code that pyproject.toml
packages, the lock; and it is computed without TensorFlow."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fashion_mnist import stack
from pipeline import configs
from pipeline import fingerprint

_PYPROJECT = '''
[tool.setuptools]
py-modules = ["main"]

[tool.setuptools.packages.find]
include = ["pkg*"]
'''


@pytest.fixture
def project(tmp_path) -> Path:
  """A project root: pyproject.toml, its module and packages, a package it does not list, the
  schema and the running stack's lock."""
  root = tmp_path / 'project'
  files = {'pyproject.toml': _PYPROJECT, 'main.py': 'MAIN = 1\n', 'pkg/__init__.py': '',
           'pkg/a.py': 'A = 1\n', 'pkg/sub/__init__.py': '', 'pkg/sub/b.py': 'B = 1\n',
           'other/__init__.py': '', 'other/c.py': 'C = 1\n',
           'schemas/schema.pbtxt': 'feature { name: "image" }\n',
           **{lock: 'tfx==1.0\n' for lock in stack.LOCK_FILES.get(stack.stack_name(), ())}}
  for name, text in files.items():
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
  return root


def _config(tmp_path, project, **settings) -> configs.PipelineConfig:
  return configs.build(output_dir=tmp_path / 'out', data_dir=tmp_path / 'data',
                       schema_file=project / 'schemas' / 'schema.pbtxt', environ={}, **settings)


def _data(tmp_path, *folders) -> Path:
  data = tmp_path / 'data'
  for folder in folders or ('',):
    (data / folder).mkdir(parents=True, exist_ok=True)
    for name in ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'):
      (data / folder / name).write_bytes(b'12345')
  return data


def test_the_same_inputs_give_the_same_fingerprint(tmp_path, project):
  data = _data(tmp_path)
  config = _config(tmp_path, project)
  first = fingerprint.of_run(config, data, project)
  assert len(first) == 64 and int(first, 16) >= 0
  assert fingerprint.of_run(_config(tmp_path, project), data, project) == first


def test_a_data_files_size_or_mtime_changes_it_without_reading_it(tmp_path, project):
  data = _data(tmp_path)
  config = _config(tmp_path, project)
  before = fingerprint.of_run(config, data, project)
  images = data / 'train-images-idx3-ubyte.gz'
  stat = images.stat()
  images.write_bytes(b'54321')  # the same size
  os.utime(images, ns=(stat.st_atime_ns, stat.st_mtime_ns))
  assert fingerprint.of_run(config, data, project) == before  # content is not read
  os.utime(images, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
  touched = fingerprint.of_run(config, data, project)
  images.write_bytes(b'123456')
  os.utime(images, ns=(stat.st_atime_ns, stat.st_mtime_ns))
  resized = fingerprint.of_run(config, data, project)
  (data / 'extra').write_bytes(b'')
  added = fingerprint.of_run(config, data, project)
  assert len({before, touched, resized, added}) == 4


def test_spans_count_only_within_the_training_window(tmp_path, project):
  data = _data(tmp_path, 'span-1', 'span-2', 'span-3')
  config = _config(tmp_path, project, num_spans=2)
  before = fingerprint.of_run(config, data, project)
  (data / 'span-1' / 'train-labels-idx1-ubyte.gz').write_bytes(b'outside the window')
  assert fingerprint.of_run(config, data, project) == before
  (data / 'span-2' / 'train-labels-idx1-ubyte.gz').write_bytes(b'inside the window')
  inside = fingerprint.of_run(config, data, project)
  (data / 'span-4').mkdir()
  newer = fingerprint.of_run(config, data, project)
  assert len({before, inside, newer}) == 3


def test_the_schema_and_the_packaged_code_and_lock_change_it(tmp_path, project):
  data = _data(tmp_path)
  config = _config(tmp_path, project)
  seen = [fingerprint.of_run(config, data, project)]
  edits = ['schemas/schema.pbtxt', 'main.py', 'pkg/a.py', 'pkg/sub/b.py', 'pyproject.toml',
           *stack.LOCK_FILES.get(stack.stack_name(), ())]
  for name in edits:
    with open(project / name, 'a', encoding='utf-8') as f:
      f.write('# edited\n')
    seen.append(fingerprint.of_run(config, data, project))
  assert len(set(seen)) == len(edits) + 1
  (project / 'other' / 'c.py').write_text('C = 2\n')  # a package pyproject.toml does not list
  assert fingerprint.of_run(config, data, project) == seen[-1]


def test_a_moved_project_with_the_same_code_has_the_same_fingerprint(tmp_path, project):
  data = _data(tmp_path)
  config = _config(tmp_path, project)
  before = fingerprint.of_run(config, data, project)
  moved = project.rename(tmp_path / 'moved')
  config = dataclasses.replace(config, schema_file=moved / 'schemas' / 'schema.pbtxt')
  assert fingerprint.of_run(config, data, moved) == before


@pytest.mark.parametrize('setting, value', [
    ('epochs', 2), ('learning_rate', 0.01), ('accuracy_threshold', 0.6), ('seed', 1),
    ('num_spans', 2), ('accept_anomalies', True), ('beam_args', ('--runner=X',)),
    ('serving_dir', Path('/elsewhere')), ('train_cache_mb', 0)])
def test_an_option_changes_it(tmp_path, project, setting, value):
  data = _data(tmp_path)
  config = _config(tmp_path, project)
  changed = dataclasses.replace(config, **{setting: value})
  assert fingerprint.of_run(changed, data, project) != fingerprint.of_run(config, data, project)


def test_retention_settings_and_the_mirror_do_not_change_it(tmp_path, project):
  data = _data(tmp_path)
  config = _config(tmp_path, project)
  other = dataclasses.replace(config, retain_runs=3, retain_versions=2,
                              mirror_url='https://mirror.example/')
  assert fingerprint.of_run(other, data, project) == fingerprint.of_run(config, data, project)


def test_examples_dir_files_count_and_a_uri_has_no_fingerprint(tmp_path, project):
  examples = tmp_path / 'examples'
  (examples / 'train').mkdir(parents=True)
  (examples / 'train' / 'data.tfrecord.gz').write_bytes(b'x')
  config = configs.build(output_dir=tmp_path / 'out', examples_dir=examples,
                         schema_file=project / 'schemas' / 'schema.pbtxt', environ={})
  before = fingerprint.of_run(config, None, project)
  (examples / 'eval').mkdir()
  (examples / 'eval' / 'data.tfrecord.gz').write_bytes(b'y')
  assert before and fingerprint.of_run(config, None, project) != before
  remote = dataclasses.replace(config, examples_dir='gs://bucket/examples')
  assert fingerprint.of_run(remote, None, project) is None


def test_code_that_is_not_a_whole_checkout_has_no_fingerprint(tmp_path, project):
  data = _data(tmp_path)
  (project / 'pyproject.toml').unlink()
  assert fingerprint.of_run(_config(tmp_path, project), data, project) is None


def test_this_checkout_has_a_fingerprint_computed_without_tensorflow(small_dataset):
  script = f'''
import sys
from pathlib import Path
from pipeline import configs, fingerprint
config = configs.build(output_dir=Path({str(small_dataset.parent / "out")!r}),
                       data_dir=Path({str(small_dataset)!r}), environ={{}})
print(fingerprint.of_run(config, config.data_dir))
assert 'tensorflow' not in sys.modules and 'tfx' not in sys.modules
'''
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          check=False)
  assert result.returncode == 0, result.stderr
  assert len(result.stdout.strip()) == 64

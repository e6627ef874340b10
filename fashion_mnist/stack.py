"""The two verified stacks: which one this process runs, the versions of its parts, and the few
compatibility shims that let the same code run on both (each says which version needs it).

  current  TFX 1.21 on Python 3.13 (requirements/current.txt): TF 2.21, Beam 2.77, protobuf 6
  legacy   TFX 1.16 on Python 3.10 (requirements/legacy.txt): TF 2.16, Beam 2.61, protobuf 4.25

In: the installed packages' metadata (no TensorFlow import). Out: `describe()` for
`fashion-pipeline --version`, `versions()` and each stack's lock files (LOCK_FILES), and the shims.
"""

import inspect
import platform
from importlib import metadata
from typing import Dict, Optional

from google.protobuf import json_format

# The TFX release line of each stack.
STACKS = {'1.21': 'current', '1.16': 'legacy'}
# Each stack's exact lock, relative to the project root: what scripts/in-env installs.
LOCK_FILES = {'current': ('requirements/current.txt',),
              'legacy': ('requirements/legacy.txt', 'requirements/legacy-overrides.txt')}

# What `--version` reports, as (name shown, distribution name).
PARTS = (('TFX', 'tfx'), ('TensorFlow', 'tensorflow'), ('tf-keras', 'tf-keras'),
         ('Beam', 'apache-beam'), ('TFDV', 'tensorflow-data-validation'),
         ('TFT', 'tensorflow-transform'), ('TFMA', 'tensorflow-model-analysis'),
         ('ML Metadata', 'ml-metadata'), ('protobuf', 'protobuf'), ('numpy', 'numpy'))


def _version(distribution: str) -> Optional[str]:
  try:
    return metadata.version(distribution)
  except metadata.PackageNotFoundError:
    return None


def stack_name() -> str:
  """'current' or 'legacy' by the installed TFX, else 'unverified (TFX x.y)'."""
  tfx = _version('tfx') or 'none'
  line = '.'.join(tfx.split('.')[:2])
  return STACKS.get(line, f'unverified (TFX {tfx})')


def versions() -> Dict[str, Optional[str]]:
  return {'Python': platform.python_version(),
          **{name: _version(distribution) for name, distribution in PARTS}}


def describe() -> str:
  """Two lines: the project and its stack, then each part's version."""
  parts = ', '.join(f'{name} {version or "missing"}' for name, version in versions().items())
  return f'fashion-pipeline {_version("fashion-pipeline") or "(not installed)"}, ' \
         f'{stack_name()} stack\n{parts}'


# protobuf 5.26 renamed MessageToDict's `including_default_value_fields` to
# `always_print_fields_with_no_presence`: protobuf 4.25 (legacy) knows only the old name, protobuf 6
# (current) only the new one.
_PRINT_FIELDS_WITHOUT_PRESENCE = (
    'always_print_fields_with_no_presence'
    if 'always_print_fields_with_no_presence' in inspect.signature(
        json_format.MessageToDict).parameters else 'including_default_value_fields')


def message_to_dict_with_defaults(message) -> dict:
  """MessageToDict with proto field names and fields at their default values printed."""
  return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                   **{_PRINT_FIELDS_WITHOUT_PRESENCE: True})


def _release(version: Optional[str]) -> tuple:
  return tuple(int(part) for part in (version or '0.0').split('.')[:2])


def xla_compiles_epoch_loop_fast() -> bool:
  """Whether this TensorFlow's XLA makes the Trainer's whole-epoch loop (models/model.py) faster.

  On 2 cores, an epoch of 60,000 images: TF 2.21 (current) 0.25 s with XLA in the pipeline;
  TF 2.16 (legacy) 0.78 s with it and 0.55 s without (0.37 s in the pipeline), as long as fit()'s
  own loop of per-step XLA programs."""
  return _release(_version('tensorflow')) >= (2, 21)

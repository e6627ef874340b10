"""Why a command failed, and the exit code that says so: every exit code of the command line.

In: the exception that ended a command (and the output dir, for the log). Out: a Fault: the cause,
its exit code and one line naming the file and the problem; `write_log` puts the full traceback
in OUTPUT_DIR/logs/<time>-<cause>.log, so that the terminal gets the line and the log the rest.

A scheduler reads the code: 1 is a data problem (the data gate), 2 a mistake in what it was
given, and each environmental failure has a code of its own, so that a crash is never taken for
bad data. The causes are told from the exception and the exceptions it was raised from (Beam and
TFX re-raise a worker's error as a RuntimeError carrying its text, TensorFlow raises its own
error classes), so both the type and the text of each are looked at.
"""

import dataclasses
import datetime
import errno
import os
import re
import tempfile
import traceback
from pathlib import Path
from typing import Iterator, List, Optional

EXIT_OK = 0
EXIT_DATA_GATE = 1  # the data gate stopped the run (anomalies)
EXIT_BAD_INPUT = 2  # bad input or settings: a usage error, a bad data file, no job server
EXIT_BUSY = 3  # another run holds the output dir; this one did not start
EXIT_CLUSTER_JOB_FAILED = 4  # a Beam job failed on a Flink or Spark cluster
EXIT_DISK_FULL = 5  # no space left (ENOSPC, or EFBIG: a file size limit)
EXIT_METADATA = 6  # the ML Metadata store cannot be opened or is corrupt
EXIT_MISSING_ARTIFACT = 7  # an artifact ML Metadata records is gone (deleted, or the dir moved)
EXIT_CRASH = 70  # anything else (EX_SOFTWARE): a bug; the log has the traceback

LOG_DIR = 'logs'  # in the output dir

_DISK_FULL_TEXT = re.compile(r'No space left on device|database or disk is full|File too large',
                             re.IGNORECASE)
_CORRUPT_STORE_TEXT = re.compile(
    r'file is not a database|database disk image is malformed|unable to open database file|'
    r'Cannot connect sqlite3 database', re.IGNORECASE)
_NOT_FOUND_TEXT = re.compile(r'No such file or directory|NotFoundError|not found|does not exist',
                             re.IGNORECASE)
_ABSOLUTE_PATH = re.compile(r"(/[^\s'\",;:()\[\]{}]+)")


class MetadataStoreError(RuntimeError):
  """The ML Metadata store cannot be opened or read; the message names the file and why."""


class MissingArtifactError(RuntimeError):
  """Files of an artifact that ML Metadata records are not there; the message names them."""


@dataclasses.dataclass(frozen=True)
class Fault:
  cause: str  # a word for the log's name: disk-full, metadata, missing-artifact, crash
  exit_code: int
  message: str  # one line: the file and the problem


def _chain(error: BaseException) -> Iterator[BaseException]:
  """The error and those it was raised from or during, outermost first."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    yield error
    error = error.__cause__ or error.__context__


def _first_line(text: str) -> str:
  return next((line.strip() for line in text.splitlines() if line.strip()), '')


def _paths_in(error: BaseException) -> List[str]:
  """The file paths an error names: an OSError's, else the absolute paths in its text."""
  if isinstance(error, OSError) and error.filename:
    return [os.fspath(error.filename)]
  return [path.rstrip('.') for path in _ABSOLUTE_PATH.findall(str(error))]


def _missing_path(error: BaseException, pipeline_root: Optional[str]) -> Optional[str]:
  """The missing file under the pipeline root that an error reports, if it is one."""
  if not (pipeline_root and (isinstance(error, FileNotFoundError)
                             or _NOT_FOUND_TEXT.search(str(error)))):
    return None
  root = pipeline_root.rstrip('/') + '/'
  return next((path for path in _paths_in(error)
               if path.startswith(root) and not os.path.exists(path)), None)


def classify(error: BaseException, pipeline_root: Optional[str] = None) -> Fault:
  """The fault behind an error that ended a command (see the EXIT_ codes)."""
  chain = list(_chain(error))
  for link in chain:
    if isinstance(link, MetadataStoreError):
      return Fault('metadata', EXIT_METADATA, f'ML Metadata store: {link}')
    if isinstance(link, MissingArtifactError):
      return Fault('missing-artifact', EXIT_MISSING_ARTIFACT, f'artifact missing: {link}')
  for link in chain:
    full = (isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EFBIG)
            or _DISK_FULL_TEXT.search(str(link)))
    if full:
      where = next(iter(_paths_in(link)), 'a file the run writes')
      problem = _DISK_FULL_TEXT.search(str(link))
      return Fault('disk-full', EXIT_DISK_FULL,
                   f'disk full: {where}: {problem[0] if problem else os.strerror(link.errno)}')
  for link in chain:
    if _CORRUPT_STORE_TEXT.search(str(link)):
      return Fault('metadata', EXIT_METADATA,
                   f'ML Metadata store: cannot be read: {_first_line(str(link))[:200]}')
  for link in chain:
    missing = _missing_path(link, pipeline_root)
    if missing:
      return Fault('missing-artifact', EXIT_MISSING_ARTIFACT,
                   f'artifact missing: {missing}: no such file or directory (deleted by hand? '
                   'ML Metadata still records it)')
  innermost = chain[-1]
  return Fault('crash', EXIT_CRASH, f'unexpected {type(innermost).__name__}: '
               f'{_first_line(str(innermost))[:200]}')


def write_log(error: BaseException, fault: Fault, output_dir: Optional[Path],
              command: str) -> Optional[Path]:
  """Writes the command and the error's full traceback to OUTPUT_DIR/logs/<time>-<cause>.log,
  or, when that cannot be written (a full disk), to the temporary directory; returns the path
  (None if neither could be written)."""
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')
  text = f'{command}\n{fault.message}\n\n' + ''.join(
      traceback.format_exception(type(error), error, error.__traceback__))
  places = [Path(output_dir) / LOG_DIR] if output_dir else []
  for folder in [*places, Path(tempfile.gettempdir()) / 'fashion-pipeline-logs']:
    path = folder / f'{stamp}-{fault.cause}.log'
    try:
      folder.mkdir(parents=True, exist_ok=True)
      path.write_text(text, encoding='utf-8')
      return path
    except OSError:
      if path.is_file():
        path.unlink()  # no half-written log
  return None

"""Fetches what the clusters run, once, into the engines cache (settings.cache_dir()):
the engines' runtimes from PyPI (pip, every sdist checked against its pinned SHA-256) and Beam's
job servers from Maven Central (mvn, every jar checked against job_server_jars.sha256).

In: settings' pins. Out: EngineFiles, the folders the cluster processes are started from.
Each folder is filled under a temporary name and renamed when complete, so an interrupted fetch
leaves nothing that looks fetched.

`python -m engines.fetch [--write-checksums]`: fetch everything (and, for whoever changes a
pinned version, write the jars' checksums file anew).
"""

import argparse
import dataclasses
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List

from engines import settings


class FetchError(RuntimeError):
  """A download was refused or a file does not match its pinned checksum; the message says which."""


@dataclasses.dataclass(frozen=True)
class EngineFiles:
  runtime_dir: Path  # the engine's jars (Flink: lib/; Spark: jars/, bin/ and its launch scripts)
  job_server_jars: Path  # Beam's runner and its dependencies, without the engine's own jars


def _sha256(path: Path) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def _run(command: List[str], what: str) -> None:
  try:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
  except FileNotFoundError as e:
    raise FetchError(f'{what}: {command[0]} is not installed (the clusters need Java 17 and '
                     'Maven: apt-get install openjdk-17-jdk-headless maven)') from e
  if result.returncode != 0:
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    raise FetchError(f'{what} failed ({" ".join(command[:3])} ...):\n  ' + '\n  '.join(lines[-15:]))


def _fill_atomically(target: Path, fill) -> Path:
  """Calls fill(folder) on a fresh temporary folder beside target, then renames it to target."""
  if target.is_dir():
    return target
  target.parent.mkdir(parents=True, exist_ok=True)
  staging = Path(tempfile.mkdtemp(prefix=f'.{target.name}.', dir=target.parent))
  try:
    fill(staging)
    staging.rename(target)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return target


def _fetch_runtime(runtime: settings.PyPiRuntime, cache: Path) -> Path:
  """The sdist's deps/ folder (where both packages keep the engine's jars), extracted."""

  def fill(folder: Path) -> None:
    requirement = folder / 'requirement.txt'
    requirement.write_text(f'{runtime.package}=={runtime.version} --hash=sha256:{runtime.sha256}\n')
    # pip checks the hash; --no-binary: the sdist, which carries the jars in deps/.
    _run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
          '--require-hashes', '-r', str(requirement), '-d', str(folder / 'download')],
         f'downloading {runtime.package} {runtime.version} from PyPI')
    (sdist,) = (folder / 'download').glob('*.tar.gz')
    with tarfile.open(sdist) as archive:
      members = [m for m in archive.getmembers() if '/deps/' in m.name]
      archive.extractall(folder / 'x', members=members, filter='data')
    (deps,) = (folder / 'x').glob('*/deps')
    deps.rename(folder / 'runtime')
    shutil.rmtree(folder / 'x')
    shutil.rmtree(folder / 'download')

  return _fill_atomically(cache / f'{runtime.package}-{runtime.version}', fill) / 'runtime'


def _pom(group: str, artifact: str, version: str, excluded_group: str) -> str:
  """A pom whose dependencies are the runner's, less the engine's own artifacts."""
  return f'''<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.fashion-pipeline</groupId><artifactId>job-server</artifactId>
  <version>1</version><packaging>pom</packaging>
  <dependencies><dependency>
    <groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
    <exclusions>
      <exclusion><groupId>{excluded_group}</groupId><artifactId>*</artifactId></exclusion>
    </exclusions>
  </dependency></dependencies>
</project>
'''


def pinned_checksums() -> Dict[str, str]:
  """'<engine>/<jar name>' -> SHA-256, from job_server_jars.sha256."""
  checksums = {}
  for line in settings.JAR_CHECKSUMS_FILE.read_text().splitlines():
    if line.strip():
      digest, name = line.split(maxsplit=1)
      checksums[name] = digest
  return checksums


def _check_jars(engine: str, jars_dir: Path, checksums: Dict[str, str]) -> None:
  expected = {name.split('/', 1)[1]: digest for name, digest in checksums.items()
              if name.startswith(f'{engine}/')}
  found = {jar.name for jar in jars_dir.glob('*.jar')}
  if found != set(expected):
    raise FetchError(f'{jars_dir}: the jars differ from {settings.JAR_CHECKSUMS_FILE.name}: '
                     f'unexpected {sorted(found - set(expected))}, '
                     f'missing {sorted(set(expected) - found)}')
  for name in sorted(found):
    if _sha256(jars_dir / name) != expected[name]:
      raise FetchError(f'{jars_dir / name}: SHA-256 does not match {settings.JAR_CHECKSUMS_FILE}')


def _fetch_job_server(engine: str, verify: bool) -> Path:
  group, artifact, version, excluded_group = settings.JOB_SERVER_ARTIFACTS[engine]

  def fill(folder: Path) -> None:
    (folder / 'pom.xml').write_text(_pom(group, artifact, version, excluded_group))
    # --strict-checksums: Maven fails on a file that does not match the repository's checksum.
    _run(['mvn', '--batch-mode', '--quiet', '--strict-checksums', '-f', str(folder / 'pom.xml'),
          'dependency:copy-dependencies', '-DincludeScope=runtime',
          f'-DoutputDirectory={folder / "lib"}'],
         f'fetching {group}:{artifact}:{version} and its dependencies from Maven Central')
    if verify:
      _check_jars(engine, folder / 'lib', pinned_checksums())

  return _fill_atomically(settings.job_server_jars_dir(engine).parent, fill) / 'lib'


def ensure(engine: str, verify: bool = True) -> EngineFiles:
  """Fetches what an engine needs unless already there. verify: check the jars against
  job_server_jars.sha256 (off only to write that file anew)."""
  cache = settings.cache_dir()
  runtime = settings.FLINK_RUNTIME if engine == 'flink' else settings.SPARK_RUNTIME
  return EngineFiles(
      runtime_dir=_fetch_runtime(runtime, cache),
      job_server_jars=_fetch_job_server(engine, verify))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='python -m engines.fetch', description=__doc__)
  parser.add_argument('--write-checksums', action='store_true',
                      help=f'write {settings.JAR_CHECKSUMS_FILE.name} from the jars fetched')
  args = parser.parse_args(argv)
  lines = []
  for engine in settings.ENGINES:
    files = ensure(engine, verify=not args.write_checksums)
    print(f'{engine}: {files.runtime_dir}, {files.job_server_jars}')
    lines += [f'{_sha256(jar)}  {engine}/{jar.name}'
              for jar in sorted(files.job_server_jars.glob('*.jar'))]
  if args.write_checksums:
    settings.JAR_CHECKSUMS_FILE.write_text('\n'.join(lines) + '\n')
  return 0


if __name__ == '__main__':
  sys.exit(main())

"""A Flink session cluster on this machine: a JobManager and a TaskManager (two task slots), each
a JVM of its own, started from the jars of `apache-flink-libraries` the way Flink's own scripts do
(memory sizes worked out by Flink's BashJavaUtils), plus Beam's Flink job server.

In: the fetched files and the engine's state dir. Out: the daemons to start, in order.
"""

import re
import subprocess
from pathlib import Path
from typing import List, Tuple

from engines import processes
from engines import settings
from engines.fetch import EngineFiles

PORTS = settings.PORTS['flink']
JOBMANAGER_RPC_PORT, TASKMANAGER_RPC_PORT, TASKMANAGER_DATA_PORT, BLOB_PORT = PORTS.cluster
FLINK_MASTER = f'{settings.HOST}:{PORTS.ui}'

# Flink 1.19's default env.java.opts.all (its config.yaml): what Flink needs opened on Java 17.
JAVA_17_OPTIONS = [
    '--add-exports=java.base/sun.net.util=ALL-UNNAMED',
    '--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED',
    '--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED',
    *[f'--add-opens=java.base/{package}=ALL-UNNAMED' for package in (
        'java.lang', 'java.net', 'java.io', 'java.nio', 'sun.nio.ch', 'java.lang.reflect',
        'java.text', 'java.time', 'java.util', 'java.util.concurrent',
        'java.util.concurrent.atomic', 'java.util.concurrent.locks')],
]

LOG4J_PROPERTIES = '''rootLogger.level = INFO
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss,SSS} %-5p %c{1} - %m%n
logger.netty.name = org.apache.flink.shaded.akka.org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = OFF
'''


def _config(state_dir: Path) -> str:
  settings_ = {
      'jobmanager.rpc.address': settings.HOST,
      'jobmanager.bind-host': settings.HOST,
      'jobmanager.rpc.port': JOBMANAGER_RPC_PORT,
      'jobmanager.memory.process.size': settings.FLINK_JOBMANAGER_MEMORY,
      'rest.address': settings.HOST,
      'rest.bind-address': settings.HOST,
      'rest.port': PORTS.ui,
      'blob.server.port': BLOB_PORT,
      'taskmanager.host': settings.HOST,
      'taskmanager.bind-host': settings.HOST,
      'taskmanager.rpc.port': TASKMANAGER_RPC_PORT,
      'taskmanager.data.port': TASKMANAGER_DATA_PORT,
      'taskmanager.memory.process.size': settings.FLINK_TASKMANAGER_MEMORY,
      # Beam's batch jobs shuffle between many operators at once, and each of Flink's sort-based
      # blocking shuffles takes 512 network buffers by default: StatisticsGen's job then fails
      # with 'Insufficient number of network buffers' even with 10,000 of them.
      'taskmanager.memory.network.min': settings.FLINK_NETWORK_MEMORY,
      'taskmanager.memory.network.max': settings.FLINK_NETWORK_MEMORY,
      'taskmanager.network.sort-shuffle.min-buffers': 64,
      'taskmanager.numberOfTaskSlots': settings.PARALLELISM,
      'parallelism.default': settings.PARALLELISM,
      'io.tmp.dirs': state_dir / 'tmp',
      'web.tmpdir': state_dir / 'tmp',
      # A killed TaskManager fails the running job within seconds instead of after the default
      # timeouts and retries; a job with no TaskManager to run on fails after a minute.
      'heartbeat.timeout': 15000,
      'restart-strategy.type': 'none',
      'slot.request.timeout': 60000,
  }
  return ''.join(f'{key}: {value}\n' for key, value in settings_.items())


def write_config(state_dir: Path) -> Path:
  conf_dir = state_dir / 'conf'
  conf_dir.mkdir(parents=True, exist_ok=True)
  (state_dir / 'tmp').mkdir(exist_ok=True)
  (conf_dir / 'config.yaml').write_text(_config(state_dir))
  (conf_dir / 'log4j.properties').write_text(LOG4J_PROPERTIES)
  return conf_dir


def _flink_classpath(files: EngineFiles) -> List[Path]:
  return sorted((files.runtime_dir / 'lib').glob('*.jar'))


def _client_classpath(files: EngineFiles) -> List[Path]:
  """What the job server needs of Flink: flink-dist (the client) and logging, not the Table API.
  Beam stages every jar of its classpath with each job, so each one left out is upload saved."""
  return [jar for jar in _flink_classpath(files) if jar.name.startswith(('flink-dist', 'log4j'))]


def _memory_parameters(files: EngineFiles, conf_dir: Path, which: str) -> Tuple[List[str],
                                                                               List[str]]:
  """Flink's own sizing of a process (BashJavaUtils, as jobmanager.sh and taskmanager.sh call
  it): the JVM's options and the dynamic -D settings it starts with."""
  result = subprocess.run(
      processes.java_command([], [files.runtime_dir / 'bin' / 'bash-java-utils.jar',
                                  *_flink_classpath(files)],
                             'org.apache.flink.runtime.util.bash.BashJavaUtils',
                             [which, '--configDir', str(conf_dir)]),
      capture_output=True, text=True, check=False)
  values = re.findall(r'^BASH_JAVA_UTILS_EXEC_RESULT:(.*)$', result.stdout, re.MULTILINE)
  if result.returncode != 0 or len(values) < 2:
    raise processes.ClusterError(f'Flink could not size its processes from {conf_dir}:\n'
                                 f'{(result.stdout + result.stderr)[-2000:]}')
  return values[-2].split(), values[-1].split()


def daemons(files: EngineFiles, state_dir: Path) -> List[processes.Daemon]:
  conf_dir = write_config(state_dir)
  logging = [f'-Dlog4j.configurationFile={conf_dir / "log4j.properties"}']
  result = []
  for name, which, main_class, port in (
      ('jobmanager', 'GET_JM_RESOURCE_PARAMS',
       'org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint', PORTS.ui),
      ('taskmanager', 'GET_TM_RESOURCE_PARAMS',
       'org.apache.flink.runtime.taskexecutor.TaskManagerRunner', TASKMANAGER_RPC_PORT)):
    jvm_options, dynamic_settings = _memory_parameters(files, conf_dir, which)
    result.append(processes.Daemon(name, processes.java_command(
        [*jvm_options, *JAVA_17_OPTIONS, *logging], _flink_classpath(files), main_class,
        ['--configDir', str(conf_dir), *dynamic_settings]), port))
  result.append(processes.Daemon('job-server', processes.java_command(
      [f'-Xmx{settings.JOB_SERVER_HEAP}', *JAVA_17_OPTIONS, *logging],
      [*sorted(files.job_server_jars.glob('*.jar')), *_client_classpath(files)],
      settings.JOB_SERVER_MAIN_CLASSES['flink'],
      [f'--flink-master={FLINK_MASTER}', f'--flink-conf-dir={conf_dir}',
       f'--job-host={settings.HOST}', f'--job-port={PORTS.job}',
       f'--artifact-port={PORTS.artifact}', f'--expansion-port={PORTS.expansion}',
       f'--artifacts-dir={state_dir / "artifacts"}']), PORTS.job))
  return result

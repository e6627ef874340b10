"""A Spark standalone cluster on this machine: a master and a worker, each a JVM of its own,
started by Spark's own launcher (`bin/spark-class` of the `pyspark` package, which also adds what
Spark needs opened on Java 17), plus Beam's Spark job server, the cluster's driver.

In: the fetched files and the engine's state dir. Out: the daemons to start, in order.
"""

import os
from pathlib import Path
from typing import Dict, List

from engines import processes
from engines import settings
from engines.fetch import EngineFiles

PORTS = settings.PORTS['spark']
MASTER_PORT, WORKER_PORT, WORKER_UI_PORT = PORTS.cluster
MASTER_URL = f'spark://{settings.HOST}:{MASTER_PORT}'

# What Spark 3.5's launcher opens for Spark on Java 17 (its launcher's JavaModuleOptions).
JAVA_17_OPTIONS = [
    '-XX:+IgnoreUnrecognizedVMOptions',
    *[f'--add-opens=java.base/{package}=ALL-UNNAMED' for package in (
        'java.lang', 'java.lang.invoke', 'java.lang.reflect', 'java.io', 'java.net', 'java.nio',
        'java.util', 'java.util.concurrent', 'java.util.concurrent.atomic', 'jdk.internal.ref',
        'sun.nio.ch', 'sun.nio.cs', 'sun.security.action', 'sun.util.calendar')],
    '-Djdk.reflect.useDirectMethodHandle=false',
]

LOG4J2_PROPERTIES = '''rootLogger.level = info
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n%ex
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
'''


def _spark_settings(state_dir: Path) -> Dict[str, str]:
  return {
      'spark.ui.enabled': 'false',  # the driver's own UI (port 4040); the master's UI stays
      'spark.executor.memory': settings.SPARK_EXECUTOR_MEMORY,
      'spark.cores.max': str(settings.PARALLELISM),
      'spark.default.parallelism': str(settings.PARALLELISM),
      'spark.local.dir': str(state_dir / 'tmp'),
      'spark.driver.host': settings.HOST,
      'spark.driver.bindAddress': settings.HOST,
  }


def _environment(files: EngineFiles, state_dir: Path) -> Dict[str, str]:
  conf_dir = state_dir / 'conf'
  conf_dir.mkdir(parents=True, exist_ok=True)
  (state_dir / 'tmp').mkdir(exist_ok=True)
  (conf_dir / 'log4j2.properties').write_text(LOG4J2_PROPERTIES)
  (conf_dir / 'spark-defaults.conf').write_text(
      ''.join(f'{key} {value}\n' for key, value in _spark_settings(state_dir).items()))
  return dict(
      os.environ, SPARK_HOME=str(files.runtime_dir), SPARK_CONF_DIR=str(conf_dir),
      SPARK_LOCAL_IP=settings.HOST, SPARK_LOG_DIR=str(state_dir),
      SPARK_DAEMON_MEMORY=settings.SPARK_DAEMON_HEAP,
      SPARK_WORKER_DIR=str(state_dir / 'work'), SPARK_NO_DAEMONIZE='1')


def _job_server(files: EngineFiles, state_dir: Path, env: Dict[str, str]) -> processes.Daemon:
  """Beam's Spark job server, the cluster's driver: a JVM of its own rather than one started by
  Spark's launcher, which would put Spark's jars before Beam's, and Spark's Guava 14 then breaks
  Beam's (33). Settings that spark-submit would read from spark-defaults.conf are system
  properties here."""
  return processes.Daemon('job-server', processes.java_command(
      [f'-Xmx{settings.JOB_SERVER_HEAP}', *JAVA_17_OPTIONS,
       f'-Dlog4j.configurationFile={state_dir / "conf" / "log4j2.properties"}',
       *[f'-D{key}={value}' for key, value in _spark_settings(state_dir).items()]],
      [*sorted(files.job_server_jars.glob('*.jar')),
       *sorted((files.runtime_dir / 'jars').glob('*.jar'))],
      settings.JOB_SERVER_MAIN_CLASSES['spark'],
      [f'--spark-master-url={MASTER_URL}', f'--job-host={settings.HOST}',
       f'--job-port={PORTS.job}', f'--artifact-port={PORTS.artifact}',
       f'--expansion-port={PORTS.expansion}', f'--artifacts-dir={state_dir / "artifacts"}']),
      PORTS.job, env)


def daemons(files: EngineFiles, state_dir: Path) -> List[processes.Daemon]:
  env = _environment(files, state_dir)
  spark_class = str(files.runtime_dir / 'bin' / 'spark-class')
  return [
      processes.Daemon('master', [
          spark_class, 'org.apache.spark.deploy.master.Master', '--host', settings.HOST,
          '--port', str(MASTER_PORT), '--webui-port', str(PORTS.ui)], MASTER_PORT, env),
      processes.Daemon('worker', [
          spark_class, 'org.apache.spark.deploy.worker.Worker', '--host', settings.HOST,
          '--port', str(WORKER_PORT), '--webui-port', str(WORKER_UI_PORT),
          '--cores', str(settings.PARALLELISM), '--memory', settings.SPARK_WORKER_MEMORY,
          '--work-dir', str(state_dir / 'work'), MASTER_URL], WORKER_UI_PORT, env),
      _job_server(files, state_dir, env),
  ]

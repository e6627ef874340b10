"""Version policies against a real server process: with `latest:1` (the default, as in TF
Serving) each pushed version replaces the last one after it has loaded and warmed up, the old one
is unloaded and memory stays flat however many are pushed; a version whose warm-up requests fail
never replaces a working one; `specific` serves exactly its versions."""

import os
import shutil

import httpx
import psutil
import pytest

from components import pusher  # the tests publish versions exactly as the pipeline does
from fashion_mnist import features
from server_process import (MODEL_NAME, PREDICT, retrained, running_server, serving_dir_with,
                            wait_until)

pytestmark = pytest.mark.serving

_PUSHES = 8
# A loaded version of this model costs the process about 5 MB; 8 versions kept would be 40 MB.
_MAX_GROWTH_BYTES = 20 * 1024 * 1024


def _states(client):
  return [(int(s['version']), s['state'])
          for s in client.get(f'/v1/models/{MODEL_NAME}').json()['model_version_status']]


def _push(pushed_model, tmp_path, serving_dir, run):
  return int(os.path.basename(pusher.publish(str(retrained(pushed_model, tmp_path, run)),
                                             str(serving_dir))))


def test_latest_1_serves_only_the_newest_version_and_memory_stays_flat(tmp_path, pushed_model):
  serving_dir = serving_dir_with(tmp_path, pushed_model.version_dir)
  body = {'signature_name': features.IMAGES_SIGNATURE,
          'instances': pushed_model.images[:2].tolist()}
  with running_server(serving_dir, tmp_path / 'server.log', '--poll-interval', '0.3') as server, \
      httpx.Client(base_url=server.rest_url, timeout=30) as client:
    process = psutil.Process(server.process.pid)
    first = pushed_model.version
    assert _states(client) == [(first, 'AVAILABLE')]
    memory = []
    pushed = [first]
    for run in range(_PUSHES):
      pushed.append(_push(pushed_model, tmp_path, serving_dir, run))
      wait_until(lambda: client.post(PREDICT, json=body).headers.get('X-Model-Version') ==
                 str(pushed[-1]), what=f'version {pushed[-1]}')
      server.wait_for_log(f'version {pushed[-2]} unloaded')
      memory.append(process.memory_info().rss)
    # Only the policy's version is loaded; the others are END (unloaded, no error), as in TF
    # Serving, and no longer served.
    assert _states(client) == [(pushed[-1], 'AVAILABLE')] + [(v, 'END') for v in pushed[-2::-1]]
    assert client.post(f'/v1/models/{MODEL_NAME}/versions/{first}:predict',
                       json=body).status_code == 404
    growth = memory[-1] - memory[0]
    assert growth < _MAX_GROWTH_BYTES, f'memory grew by {growth / 2**20:.0f} MB: {memory}'

    # A newer version whose warm-up requests fail never replaces the working one.
    # (Staged and renamed into place, as the Pusher does, so the server never sees it whole.)
    broken = pushed[-1] + 1
    staging = serving_dir / f'.{broken}.incomplete'
    shutil.copytree(serving_dir / str(pushed[-1]), staging)
    (staging / 'assets.extra' / 'tf_serving_warmup_requests').write_bytes(b'not a TFRecord')
    staging.rename(serving_dir / str(broken))
    server.wait_for_log(rf'version {broken} in .* failed to load; still serving \[{pushed[-1]}\]'
                        '.*tf_serving_warmup_requests')
    assert _states(client)[:2] == [(broken, 'END'), (pushed[-1], 'AVAILABLE')]
    assert client.post(PREDICT, json=body).headers['X-Model-Version'] == str(pushed[-1])


def test_specific_serves_exactly_its_versions(tmp_path, pushed_model):
  serving_dir = serving_dir_with(tmp_path, pushed_model.version_dir)
  newer = _push(pushed_model, tmp_path, serving_dir, 0)
  newest = _push(pushed_model, tmp_path, serving_dir, 1)
  policy = f'specific:{pushed_model.version},{newest}'
  with running_server(serving_dir, tmp_path / 'server.log', '--version-policy', policy) as server:
    with httpx.Client(base_url=server.rest_url, timeout=30) as client:
      wait_until(lambda: [s for _, s in _states(client)] == ['AVAILABLE'] * 2, what='two loaded')
      assert [v for v, _ in _states(client)] == [newest, pushed_model.version]
      assert client.post(f'/v1/models/{MODEL_NAME}/versions/{newer}:predict',
                         json={'instances': [[1]]}).status_code == 404

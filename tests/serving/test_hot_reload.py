"""Hot reload against a real server process: a version pushed while clients send requests is
switched in with no failed request, older versions stay addressable while present, a version that
fails to load leaves the others serving, and SIGTERM stops the server cleanly."""

import os
import shutil
import threading
import time

import httpx
import pytest

from components import pusher  # the tests publish versions exactly as the pipeline does
from server_process import MODEL_NAME, running_server, serving_dir_with
from fashion_mnist import features

pytestmark = pytest.mark.serving

PREDICT = f'/v1/models/{MODEL_NAME}:predict'
_LOOP_LIMIT_S = 120  # the client loops stop by themselves, whatever happens


def _retrained(pushed_model, tmp_path):
  """A copy of the model that differs by one extra file (which TF Serving ignores): the Pusher
  publishes a model identical to the newest version only once."""
  model = tmp_path / 'retrained'
  shutil.copytree(pushed_model.version_dir, model)
  (model / 'assets.extra').mkdir(exist_ok=True)
  (model / 'assets.extra' / 'retrained.txt').write_text('a model from another run\n')
  return model


def _client_loop(url, body, results, stop):
  with httpx.Client(base_url=url, timeout=30) as client:
    deadline = time.monotonic() + _LOOP_LIMIT_S
    while not stop.is_set() and time.monotonic() < deadline:
      try:
        response = client.post(PREDICT, json=body)
        results.append((response.status_code, response.headers.get('X-Model-Version')))
      except httpx.HTTPError as e:
        results.append((repr(e), None))


def _wait(condition, timeout_s=60, what=''):
  deadline = time.monotonic() + timeout_s
  while not condition():
    assert time.monotonic() < deadline, f'timed out waiting for {what}'
    time.sleep(0.1)


def test_versions_are_switched_in_and_out_while_serving(tmp_path, pushed_model):
  serving_dir = serving_dir_with(tmp_path, pushed_model.version_dir)
  old = str(pushed_model.version)
  body = {'signature_name': features.IMAGES_SIGNATURE,
          'instances': pushed_model.images[:10].tolist()}
  with running_server(serving_dir, tmp_path / 'server.log', '--poll-interval', '0.5') as server:
    stop = threading.Event()
    per_client = [[], []]
    clients = [threading.Thread(target=_client_loop, args=(server.rest_url, body, results, stop))
               for results in per_client]
    for client in clients:
      client.start()
    try:
      _wait(lambda: all(len(results) >= 5 for results in per_client), what='first answers')
      new = os.path.basename(pusher.publish(str(_retrained(pushed_model, tmp_path)),
                                            str(serving_dir)))
      # Done once every client has had several answers from the new version.
      _wait(lambda: all([v for _, v in results[-5:]] == [new] * 5 for results in per_client),
            what=f'answers from version {new}')
    finally:
      stop.set()
      for client in clients:
        client.join()
    for results in per_client:
      assert {status for status, _ in results} == {200}, [r for r in results if r[0] != 200]
      versions = [version for _, version in results]
      switch = versions.index(new)  # old answers, then new ones: never back
      assert set(versions[:switch]) == {old} and set(versions[switch:]) == {new}
    server.wait_for_log(f'version {new} loaded')

    with httpx.Client(base_url=server.rest_url, timeout=30) as client:
      # The older version is still there, by number.
      response = client.post(f'/v1/models/{MODEL_NAME}/versions/{old}:predict', json=body)
      assert response.status_code == 200 and response.headers['X-Model-Version'] == old

      # A newer version that cannot load is reported, and the others go on serving.
      broken = str(int(new) + 1)
      (serving_dir / broken).mkdir()
      (serving_dir / broken / 'saved_model.pb').write_bytes(b'not a SavedModel')
      server.wait_for_log(f'version {broken} in .* failed to load; still serving '
                          rf'\[{new}, {old}\]')
      statuses = client.get(f'/v1/models/{MODEL_NAME}').json()['model_version_status']
      assert [(s['version'], s['state']) for s in statuses] == [
          (broken, 'END'), (new, 'AVAILABLE'), (old, 'AVAILABLE')]
      assert statuses[0]['status']['error_code'] == 'UNKNOWN'
      assert statuses[0]['status']['error_message']
      assert client.post(PREDICT, json=body).headers['X-Model-Version'] == new

      # A version removed from the dir is unloaded.
      shutil.rmtree(serving_dir / old)
      _wait(lambda: client.post(f'/v1/models/{MODEL_NAME}/versions/{old}:predict',
                                json=body).status_code == 404, what=f'version {old} unloaded')
      assert client.post(PREDICT, json=body).status_code == 200
  log = server.log()
  assert 'SIGTERM received' in log and log.rstrip().endswith('stopped')

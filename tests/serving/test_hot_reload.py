"""Hot reload against a real server process: a version pushed while clients send requests is
switched in with no failed request, older versions stay addressable while present (version policy
`all`), a version that fails to load leaves the others serving, and SIGTERM stops the server
cleanly."""

import os
import shutil
import threading

import httpx
import pytest

from components import pusher  # the tests publish versions exactly as the pipeline does
from server_process import (MODEL_NAME, client_loop, retrained, running_server,
                            serving_dir_with, wait_until)
from fashion_mnist import features

pytestmark = pytest.mark.serving

PREDICT = f'/v1/models/{MODEL_NAME}:predict'


def test_versions_are_switched_in_and_out_while_serving(tmp_path, pushed_model):
  serving_dir = serving_dir_with(tmp_path, pushed_model.version_dir)
  old = str(pushed_model.version)
  body = {'signature_name': features.IMAGES_SIGNATURE,
          'instances': pushed_model.images[:10].tolist()}
  with running_server(serving_dir, tmp_path / 'server.log', '--poll-interval', '0.5',
                      '--version-policy', 'all') as server:
    stop = threading.Event()
    per_client = [[], []]
    clients = [threading.Thread(target=client_loop, args=(server.rest_url, body, results, stop))
               for results in per_client]
    for client in clients:
      client.start()
    try:
      wait_until(lambda: all(len(results) >= 5 for results in per_client), what='first answers')
      new = os.path.basename(pusher.publish(str(retrained(pushed_model, tmp_path)),
                                            str(serving_dir)))
      # Done once every client has had several answers from the new version.
      wait_until(lambda: all([v for _, v in results[-5:]] == [new] * 5 for results in per_client),
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
      wait_until(lambda: client.post(f'/v1/models/{MODEL_NAME}/versions/{old}:predict',
                                json=body).status_code == 404, what=f'version {old} unloaded')
      assert client.post(PREDICT, json=body).status_code == 200
  log = server.log()
  assert 'SIGTERM received' in log and log.rstrip().endswith('stopped')

"""A real browser shows the report: headless Chromium loads the page from disk with no network,
every picture decodes, the sections are in the rendered DOM, and the page has a real height."""

import html.parser
import shutil
import subprocess

import pytest
from PIL import Image

from report.render import render_html

CHROMIUM = shutil.which('chromium')
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian's `chromium` package)")

# Added to the copy of the page that the browser loads (the report itself has no scripts): once
# everything has loaded, marks each picture decoded or not and records the page's height, so that
# --dump-dom shows both.
_PROBE = """<script>
window.addEventListener('load', () => {
  for (const image of document.images) {
    image.dataset.decoded = image.complete && image.naturalWidth > 0;
  }
  document.body.dataset.height = document.documentElement.scrollHeight;
});
</script>
</body>"""


class _Dom(html.parser.HTMLParser):

  def __init__(self, dom: str):
    super().__init__()
    self.ids, self.decoded, self.height = [], [], None
    self.feed(dom)

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if 'id' in attrs:
      self.ids.append(attrs['id'])
    if tag == 'img':
      self.decoded.append(attrs.get('data-decoded'))
    if tag == 'body':
      self.height = int(attrs['data-height'])


def chromium(tmp_path, *args: str) -> str:
  """Runs headless Chromium with a fresh profile and nothing that reaches the network."""
  profile = tmp_path / f'profile-{len(list(tmp_path.glob("profile-*")))}'
  command = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
             '--no-first-run', '--disable-background-networking', '--disable-component-update',
             '--disable-sync', '--hide-scrollbars', f'--user-data-dir={profile}', *args]
  result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def test_chromium_renders_the_report(content, section_ids, tmp_path):
  page = tmp_path / 'report.html'
  page.write_text(render_html(content).replace('</body>', _PROBE), encoding='utf-8')

  dom = _Dom(chromium(tmp_path, '--window-size=1280,1000', '--virtual-time-budget=5000',
                      '--dump-dom', page.as_uri()))
  assert dom.decoded == ['true'] * 10
  assert set(dom.ids) >= set(section_ids)  # the history section too
  assert dom.height > 5000  # tables and ten pictures, at 1280 pixels wide

  screenshot = tmp_path / 'report.png'
  chromium(tmp_path, f'--screenshot={screenshot}', f'--window-size=1280,{dom.height}',
           page.as_uri())
  with Image.open(screenshot) as image:
    assert image.size == (1280, dom.height)
    colors = image.convert('RGB').getcolors(maxcolors=1 << 20)
  assert len(colors) > 100  # drawn, not a blank page

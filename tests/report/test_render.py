"""The HTML page: its sections, embedded pictures, escaping, and the variants of a run."""

import base64
import dataclasses
import html
import html.parser
import io
import re

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from fashion_mnist import features
from report.render import render_html


class _Page(html.parser.HTMLParser):
  """The ids, tags, image sources and text of a page."""

  def __init__(self, page: str):
    super().__init__()
    self.ids, self.tags, self.images, self.text = [], [], [], []
    self.feed(page)

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    self.tags.append(tag)
    if 'id' in attrs:
      self.ids.append(attrs['id'])
    if tag == 'img':
      self.images.append(attrs['src'])

  def handle_data(self, data):
    self.text.append(data)


def section_text(page: str, key: str) -> str:
  """The text of the section with this id (sections are not nested except confusion-matrix)."""
  match = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
  assert match, f'no section {key}'
  return html.unescape(re.sub(r'<[^>]+>', ' ', match.group(1)))


def replace_data(content, **changes):
  return dataclasses.replace(content, data=dataclasses.replace(content.data, **changes))


@pytest.fixture(scope='module')
def page(content) -> str:
  return render_html(content)


@pytest.fixture(scope='module')
def stopped_page(gate_stopped) -> str:
  return render_html(gate_stopped)


def test_every_section_is_there(page, section_ids):
  ids = _Page(page).ids
  for key in section_ids:
    assert ids.count(key) == 1, key


def test_pictures_are_embedded_pngs(page):
  images = _Page(page).images
  # Two label distributions and two pixel histograms (train, eval), two comparisons with the
  # previous run, the confusion matrix, the training images, the test predictions and the
  # history's accuracies.
  assert len(images) == 10
  for source in images:
    assert source.startswith('data:image/png;base64,')
    picture = Image.open(io.BytesIO(base64.b64decode(source.split(',', 1)[1])))
    assert picture.format == 'PNG' and picture.width > 100 and picture.height > 100


def test_self_contained(page):
  tags = set(_Page(page).tags)
  assert not tags & {'script', 'link', 'iframe', 'object'}
  assert not re.search(r'(src|href)="(?!#|data:)', page)


def test_figures_are_not_left_open(page):
  assert not plt.get_fignums()


def test_class_names(page):
  for name in features.CLASS_NAMES:
    assert name in section_text(page, 'model')


def test_header(page, content):
  text = section_text(page, 'header')
  for value in ('2026-11-29T20:48:13', '2026-11-29 20:48 UTC', '/data/fashion-mnist',
                'not blessed: accuracy below the baseline'):
    assert value in text
  assert 'Model version none' in ' '.join(text.split())
  assert 'Anomalies were accepted' in text
  assert 'Stopped at the data gate' not in page


def test_data(page, content):
  text = ' '.join(section_text(page, 'data').split())
  for split in content.data.splits:
    assert f'{split.split} {split.statistics.num_examples:,}' in text


def test_anomalies_are_escaped(page, content):
  anomaly = content.data.anomalies[0]
  assert set('<>&"') <= set(anomaly)
  assert html.escape(anomaly) in page
  assert anomaly not in page
  assert anomaly in section_text(page, 'anomalies')


def test_drift_with_a_previous_run(page):
  text = ' '.join(section_text(page, 'drift').split())
  assert 'train label L-infinity distance 0.2100 0.1000 yes' in text
  assert 'eval label L-infinity distance 0.0400 0.1000 no' in text
  assert 'mean (previous run)' in text
  assert 'this run and the previous one' in page


def test_schema(page):
  text = ' '.join(section_text(page, 'schema').split())
  assert 'image INT integers 0 to 255 [784]' in text
  assert 'label INT integers 0 to 9, categorical scalar' in text
  assert 'not in SERVING' in text


def test_schema_drift_comparator(content):
  schema = type(content.data.schema)()
  schema.CopyFrom(content.data.schema)
  label = next(f for f in schema.feature if f.name == features.LABEL_KEY)
  label.drift_comparator.infinity_norm.threshold = 0.05
  page = render_html(replace_data(content, schema=schema))
  assert 'L-infinity distance at most 0.05' in section_text(page, 'schema')


def test_model(page, content):
  text = ' '.join(section_text(page, 'model').split())
  model = content.model
  assert f'{model.accuracy:.4f} 0.3456 {model.example_count:,}' in text
  difference = model.accuracy - model.baseline_accuracy
  assert f'no {model.accuracy:.4f} 0.8500 {model.baseline_accuracy:.4f} {difference:+.4f}' in text
  assert 'Accuracy is below the baseline <model 17>.' in text
  assert 'Dress' in text


def test_gate_stopped(stopped_page, section_ids):
  page = _Page(stopped_page)
  assert set(page.ids) >= set(section_ids) - {'confusion-matrix'}
  assert 'confusion-matrix' not in page.ids
  assert 'Stopped at the data gate: nothing was trained or pushed' in section_text(
      stopped_page, 'header')
  assert 'Anomalies were accepted' not in stopped_page
  assert 'No model was trained in this run.' in section_text(stopped_page, 'model')
  assert 'No previous run to compare with.' in section_text(stopped_page, 'drift')
  assert 'the test images with their true classes' in section_text(stopped_page,
                                                                   'test-predictions')
  # The data pictures, the training images, the test images and the history's accuracies.
  assert len(page.images) == 7


def test_no_anomalies(content):
  page = render_html(replace_data(content, anomalies=()))
  assert 'None: every split matches the schema.' in section_text(page, 'anomalies')


def test_history(page, content):
  text = ' '.join(section_text(page, 'history').split())
  assert 'The last 50 of 70 runs.' in text
  assert ('This run was compared with the baseline (version 1796000039): accuracy '
          f'{content.model.baseline_accuracy:.4f}.') in text
  assert '2026-11-29T20:48:13 (this run)' in text and '(baseline)' in text
  assert '1796000039 yes ' in text and '1795990000 removed' in text
  assert '5 ran, killed in Trainer' in text and 'stopped at the data gate' in text
  # Newest first in the table: this run's row before the baseline's.
  assert text.index('(this run)') < text.index('(baseline)')


def test_no_history_without_ml_metadata(content):
  page = render_html(dataclasses.replace(content, history=None))
  assert 'No history: this run had no ML Metadata file to read.' in section_text(page, 'history')
  assert len(_Page(page).images) == 9

"""Draws a run report as one self-contained HTML page.

In: a ReportContent (report/content.py).
Out: the HTML text of one page that needs nothing else to be viewed: no scripts, no external CSS or
fonts, every picture embedded as a base64 PNG data URI (drawn by report/charts.py). Every section
has a stable id: header, data, anomalies, drift, schema, model, confusion-matrix, training-images,
test-predictions, history (confusion-matrix only when a model was trained).
"""

import base64
import html
import numbers
from typing import Iterable, Optional, Sequence

from tensorflow_metadata.proto.v0 import schema_pb2

from fashion_mnist import features
from report import charts
from report import feature_stats
from report.content import (DataSection, HistorySection, ModelSection, Pictures, ReportContent,
                            RunInfo, SplitStatistics)

_STYLE = """
body { font-family: sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px 32px;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 4px; }
section { border-top: 1px solid #ccc; margin-top: 24px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f0f0f0; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fde2e2; }
.banner { padding: 10px 14px; margin: 12px 0; border-radius: 4px; font-weight: bold; }
.banner.stop { background: #fde2e2; border: 1px solid #c62828; color: #8e0000; }
.banner.accepted { background: #fff4d6; border: 1px solid #b58900; color: #6b4f00; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 8px 0; }
figcaption { font-size: 90%; color: #555; }
img { max-width: 100%; }
nav a { margin-right: 12px; }
"""

_SECTION_TITLES = {
    'header': 'Run',
    'data': 'Data',
    'anomalies': 'Anomalies',
    'drift': 'Drift from the previous run',
    'schema': 'Schema',
    'model': 'Model',
    'training-images': 'Training images',
    'test-predictions': 'Test images and predictions',
    'history': 'History',
}


def render_html(content: ReportContent) -> str:
  """The whole page; every text from content is escaped."""
  sections = [
      _header(content.run, content.data),
      _data(content.data.splits),
      _anomalies(content.data),
      _drift(content.data),
      _schema(content.data.schema),
      _model(content.model),
      _training_images(content.pictures),
      _test_predictions(content.pictures, content.model is not None),
      _history(content.history),
  ]
  title = _e(f'Fashion-MNIST pipeline run {content.run.run_id}')
  links = ''.join(f'<a href="#{key}">{_e(name)}</a>' for key, name in _SECTION_TITLES.items())
  return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
          f'<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n'
          f'<h1>{title}</h1>\n<nav>{links}</nav>\n' + '\n'.join(sections) + '\n</body>\n</html>\n')


# Small HTML builders.

def _e(value) -> str:
  return html.escape(str(value))


def _section(key: str, body: str, title: Optional[str] = None) -> str:
  heading = 'h3' if title else 'h2'
  return (f'<section id="{key}">\n<{heading}>{_e(title or _SECTION_TITLES[key])}</{heading}>\n'
          f'{body}\n</section>')


def _p(text: str) -> str:
  return f'<p>{_e(text)}</p>'


def _list(items: Iterable[str]) -> str:
  return '<ul>' + ''.join(f'<li>{_e(item)}</li>' for item in items) + '</ul>'


def _cell(value) -> str:
  # Numbers right-aligned so that columns of them can be compared at a glance.
  if isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy's numbers too
    return f'<td class="number">{_e(_number(value))}</td>'
  return f'<td>{_e(value)}</td>'


def _number(value) -> str:
  # Whole numbers (counts, pixel values) without decimals; others to four places.
  return f'{value:,.0f}' if float(value).is_integer() else f'{value:.4f}'


def _table(headers: Sequence[str], rows: Iterable[Sequence], bad_rows: Sequence[bool] = ()) -> str:
  """A table of escaped cells; rows whose bad_rows entry is True are highlighted."""
  head = ''.join(f'<th>{_e(header)}</th>' for header in headers)
  body = []
  for i, row in enumerate(rows):
    bad = i < len(bad_rows) and bad_rows[i]
    body.append(('<tr class="bad">' if bad else '<tr>') + ''.join(map(_cell, row)) + '</tr>')
  return f'<table><tr>{head}</tr>{"".join(body)}</table>'


def _figure(png: bytes, alt: str, caption: Optional[str] = None) -> str:
  data = base64.b64encode(png).decode('ascii')
  caption_html = f'<figcaption>{_e(caption)}</figcaption>' if caption else ''
  return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">{caption_html}</figure>'


# The sections.

def _header(run: RunInfo, data: DataSection) -> str:
  rows = [('Run', run.run_id), ('Report written', run.time), ('Data source', run.data_source),
          ('Model version', run.model_version or 'none'), ('Outcome', run.outcome)]
  if run.pushed_path:
    rows.append(('Pushed to', run.pushed_path))
  body = ''.join(f'<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>' for name, value in rows)
  banners = []
  if not data.gate_passed:
    banners.append('<div class="banner stop" id="gate-stopped">Stopped at the data gate: '
                   'nothing was trained or pushed.</div>')
  if data.anomalies_accepted:
    banners.append('<div class="banner accepted" id="anomalies-accepted">Anomalies were accepted '
                   'for this run: the data gate let it through despite them (see Anomalies).</div>')
  return _section('header', f'<table>{body}</table>' + ''.join(banners))


def _data(splits: Sequence[SplitStatistics]) -> str:
  summary_rows = []
  details = []
  for split in splits:
    pixels = feature_stats.pixel_summary(split.statistics)
    summary_rows.append([split.split, split.statistics.num_examples]
                        + (_pixel_cells(pixels) if pixels else ['no image statistics'] * 5))
    details.append(_split_figures(split))
  table = _table(['split', 'examples', 'pixel mean', 'pixel std', 'pixel min', 'pixel max',
                  'zero pixels'], summary_rows)
  return _section('data', table + ''.join(details))


def _pixel_cells(pixels: feature_stats.PixelSummary) -> list:
  return [pixels.mean, pixels.std, pixels.min, pixels.max, f'{pixels.zeros_fraction:.1%}']


def _split_figures(split: SplitStatistics) -> str:
  counts = feature_stats.label_distribution(split.statistics)
  histogram = feature_stats.pixel_histogram(split.statistics)
  name = split.split
  figures = [
      _figure(charts.label_distribution(counts), f'label distribution of {name}',
              f'Examples per class ({name})') if counts
      else _p(f'The statistics of {name} have no per-class counts of the label.'),
      _figure(charts.value_histogram(histogram, 'pixel value'), f'pixel histogram of {name}',
              f'Pixel values ({name}, all pixels of all images)') if histogram
      else _p(f'The statistics of {name} have no histogram of the pixel values.'),
  ]
  return f'<h3>{_e(name)}</h3><div class="figures">{"".join(figures)}</div>'


def _anomalies(data: DataSection) -> str:
  if not data.anomalies:
    return _section('anomalies', _p('None: every split matches the schema.'))
  accepted = _p('These anomalies were accepted for this run.') if data.anomalies_accepted else ''
  return _section('anomalies', _list(data.anomalies) + accepted)


def _drift(data: DataSection) -> str:
  if data.previous_splits is None:
    return _section('drift', _p('No previous run to compare with.'))
  if data.drift:
    checks = _table(['split', 'feature', 'measure', 'value', 'threshold', 'exceeded'],
                    [[c.split, c.feature, c.measure, c.value, c.threshold,
                      'yes' if c.exceeded else 'no'] for c in data.drift],
                    [c.exceeded for c in data.drift])
  else:
    checks = _p('No drift checks were made.')
  previous = {split.split: split.statistics for split in data.previous_splits}
  pixel_rows = []
  comparisons = []
  for split in data.splits:
    if split.split not in previous:
      continue
    pixel_rows.append(_pixel_comparison(split.split, split.statistics, previous[split.split]))
    comparisons.append(_label_comparison(split.split, split.statistics, previous[split.split]))
  pixels = _table(['split', 'mean (this run)', 'mean (previous run)', 'std (this run)',
                   'std (previous run)'],
                  pixel_rows) if pixel_rows else _p('The previous run has none of these splits.')
  return _section('drift', '<h3>Drift checks</h3>' + checks + '<h3>Pixel values</h3>' + pixels
                  + '<h3>Label distribution</h3>'
                  + f'<div class="figures">{"".join(comparisons)}</div>')


def _pixel_comparison(name: str, current, previous) -> list:
  now = feature_stats.pixel_summary(current)
  before = feature_stats.pixel_summary(previous)
  missing = 'no image statistics'
  return [name, now.mean if now else missing, before.mean if before else missing,
          now.std if now else missing, before.std if before else missing]


def _label_comparison(name: str, current, previous) -> str:
  now = feature_stats.label_distribution(current)
  before = feature_stats.label_distribution(previous)
  if not now or not before:
    return _p(f'No per-class counts of the label to compare for {name}.')
  return _figure(charts.label_distribution_comparison(now, before),
                 f'label distribution of {name}, this run and the previous one',
                 f'Share of each class ({name}): this run and the previous run')


def _schema(schema: schema_pb2.Schema) -> str:
  rows = [[feature.name, schema_pb2.FeatureType.Name(feature.type), _domain(feature),
           _shape(feature), _presence(feature), _environments(feature), _drift_comparator(feature)]
          for feature in schema.feature]
  table = _table(['feature', 'type', 'domain', 'shape', 'presence', 'environments',
                  'drift comparator'], rows)
  environments = ', '.join(schema.default_environment) or 'none'
  return _section('schema', table + _p(f'Default environments: {environments}.'))


def _domain(feature: schema_pb2.Feature) -> str:
  kind = feature.WhichOneof('domain_info')
  if kind == 'int_domain':
    domain = feature.int_domain
    text = f'integers {domain.min} to {domain.max}'
    return text + ', categorical' if domain.is_categorical else text
  if kind == 'float_domain':
    return f'floats {feature.float_domain.min:g} to {feature.float_domain.max:g}'
  if kind == 'string_domain':
    return 'one of ' + ', '.join(feature.string_domain.value)
  if kind == 'domain':
    return f'domain {feature.domain}'
  return kind.replace('_', ' ') if kind else 'any'


def _shape(feature: schema_pb2.Feature) -> str:
  if feature.HasField('shape'):
    dims = [str(dim.size) for dim in feature.shape.dim]
    return f'[{", ".join(dims)}]' if dims else 'scalar'
  if feature.HasField('value_count'):
    return f'{feature.value_count.min} to {feature.value_count.max} values'
  return 'any'


def _presence(feature: schema_pb2.Feature) -> str:
  if not feature.HasField('presence'):
    return 'any'
  return (f'in at least {feature.presence.min_fraction:.0%} of examples '
          f'(at least {feature.presence.min_count})')


def _environments(feature: schema_pb2.Feature) -> str:
  only = [f'only in {name}' for name in feature.in_environment]
  excluded = [f'not in {name}' for name in feature.not_in_environment]
  return ', '.join(only + excluded) or 'all'


def _drift_comparator(feature: schema_pb2.Feature) -> str:
  comparator = feature.drift_comparator
  if comparator.HasField('infinity_norm'):
    return f'L-infinity distance at most {comparator.infinity_norm.threshold:g}'
  if comparator.HasField('jensen_shannon_divergence'):
    return f'Jensen-Shannon divergence at most {comparator.jensen_shannon_divergence.threshold:g}'
  return 'none'


def _model(model: Optional[ModelSection]) -> str:
  if model is None:
    return _section('model', _p('No model was trained in this run.'))
  overall = _table(['accuracy', 'loss', 'test examples'],
                   [[model.accuracy, model.loss, model.example_count]])
  per_class = _table(['class', 'precision', 'recall', 'test examples'],
                     [[c.name, c.precision, c.recall, c.count] for c in model.per_class])
  matrix = _section('confusion-matrix', _figure(
      charts.confusion_matrix(model.confusion_matrix, features.CLASS_NAMES),
      'confusion matrix', 'Test examples by true class (rows) and predicted class (columns)'),
                    title='Confusion matrix')
  return _section('model', overall + _blessing(model) + '<h3>Per class</h3>' + per_class + matrix)


def _blessing(model: ModelSection) -> str:
  baseline = model.baseline_accuracy
  difference = 'no baseline' if baseline is None else f'{model.accuracy - baseline:+.4f}'
  table = _table(['blessed', 'accuracy', 'threshold', 'baseline accuracy', 'difference'],
                 [['yes' if model.blessed else 'no', model.accuracy, model.accuracy_threshold,
                   'no baseline' if baseline is None else baseline, difference]],
                 [not model.blessed])
  reasons = _list(model.blessing_reasons) if model.blessing_reasons else ''
  return '<h3>Blessing</h3>' + table + reasons


def _training_images(pictures: Pictures) -> str:
  return _section('training-images', _figure(
      charts.training_images(pictures.train_images, pictures.train_labels),
      'training images with their classes',
      "Training images with their classes, as in TensorFlow's basic classification tutorial"))


def _test_predictions(pictures: Pictures, trained: bool) -> str:
  if pictures.test_probabilities is None:
    why = 'No model was trained in this run' if not trained else 'No predictions were recorded'
    caption = f'{why}: the test images with their true classes.'
  else:
    caption = ('Under each test image: the predicted class, its probability and (the true class),'
               ' blue when right and red when wrong; beside it the probabilities of the ten'
               ' classes, the predicted one red and the true one blue.')
  return _section('test-predictions', _figure(
      charts.test_predictions(pictures.test_images, pictures.test_labels,
                              pictures.test_probabilities),
      'test images with predictions', caption))


def _history(history: Optional[HistorySection]) -> str:
  if history is None:
    return _section('history', _p('No history: this run had no ML Metadata file to read.'))
  runs = history.runs
  shown = (f'The last {len(runs)} of {history.total_runs} runs.' if history.total_runs > len(runs)
           else f'All {len(runs)} runs.' if len(runs) > 1 else 'The first run.')
  this = next((i for i, run in enumerate(runs) if run.is_this_run), None)
  baseline = next((i for i, run in enumerate(runs) if run.is_baseline), None)
  chart = _figure(charts.accuracy_history(
      [run.accuracy for run in runs], [run.blessed for run in runs],
      [bool(run.pushed_version) for run in runs], this, baseline, history.accuracy_threshold),
      'accuracy of the last runs', f'Test accuracy of each run, oldest left. {shown}')
  if history.baseline_accuracy is None:
    compared = 'This run was compared with no baseline.'
  else:
    version = (f' (version {history.baseline_version})' if history.baseline_version else '')
    compared = (f'This run was compared with the baseline{version}: accuracy '
                f'{history.baseline_accuracy:.4f}.')
  table = _table(['run', 'components', 'accuracy', 'blessed', 'pushed', 'note'], [
      [run.run_id + (' (this run)' if run.is_this_run else '')
       + (' (baseline)' if run.is_baseline else ''), run.states,
       '-' if run.accuracy is None else f'{run.accuracy:.4f}',
       {None: '-', True: 'yes', False: 'no'}[run.blessed], run.pushed_version or '-', run.note]
      for run in reversed(runs)], [run.states.count('killed') > 0 for run in reversed(runs)])
  versions = _table(['version', 'in the serving dir', 'pushed by'], [
      [v.version, 'removed' if v.removed else 'yes' if v.present else 'no', v.run_id or '-']
      for v in history.serving_versions]) if history.serving_versions else _p(
          'No version has been pushed.')
  return _section('history', chart + _p(compared) + '<h3>Serving versions</h3>' + versions
                  + '<h3>Runs, newest first</h3>' + table)

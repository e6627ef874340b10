"""The data gate's verdict: custom properties of its output artifact, read by the pipeline's
condition, the run report and the command line."""

PASSED = 'passed'  # 1: training may go on (no anomaly, or anomalies accepted); 0: stop
ACCEPTED = 'accepted'  # 1: anomalies were found and a person accepted them for this run
PROBLEMS = 'problems'  # JSON list: one sentence per anomaly
DRIFT = 'drift'  # JSON list of {split, feature, measure, value, threshold}

"""The code TFX's Transform and Trainer run, called by name as in TFX's templates:
`preprocessing.preprocessing_fn` and `model.run_fn`. Its fingerprint is part of their settings
(pipeline/pipeline.py), so editing it, and only it, invalidates their cached results."""

"""Reliability tools: a hostile-request fuzzer for the server and kill-point chaos runs of the
pipeline (README, "Reliability")."""

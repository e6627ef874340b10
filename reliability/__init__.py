"""Reliability: how the system behaves under hostile input and faults (README, "Reliability")."""

"""The per-run HTML report: what it shows (content.py), how it is drawn (render.py), and the TFX
component that writes it as an artifact of the run."""

"""Reliability tools: fault injection and chaos runs against the pipeline and the server."""

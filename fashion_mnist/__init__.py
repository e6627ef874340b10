"""Facts about Fashion-MNIST that every part of the project shares.

This is the bottom of the dependency graph: it imports nothing else of ours, and components/,
pipeline/, serving and report code may all import it.
"""

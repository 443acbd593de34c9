"""Degradations and input pipelines."""

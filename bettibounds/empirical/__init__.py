"""The empirical side: experiment files (and, on the roadmap, batched landscapes).

Importing this package imports nothing heavy; modules that need torch or gudhi import
them themselves.
"""

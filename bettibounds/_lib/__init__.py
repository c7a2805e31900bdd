"""Shared internals of bettibounds (not a public API): array validation, devices, extras,
host memory, progress bars. Every module that needs one of these imports it from here, so
each lives in one place."""

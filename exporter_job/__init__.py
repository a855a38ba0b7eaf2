"""The export Job: turns a model source into a published SavedModel version.

Only the modules that build or check SavedModels import TensorFlow; `manifest`, `storage`, `compat`,
`errors` and `options` stay importable without it (the operator uses `manifest.verify_version`).
"""

__version__ = "0.1.0"

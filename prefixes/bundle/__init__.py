"""Multi-task bundles: every task's prefix over one frozen base model, served in mixed batches.

``manifest`` (what a bundle holds, as JSON), ``members`` (pinning and checking the members),
``heads`` (per-task classification heads), ``model`` (MultiTaskModel), ``serving`` (text requests).

Names are imported on first use, so building or reading a manifest does not load torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BaseModelRef": "prefixes.bundle.manifest",
    "BundleError": "prefixes.bundle.manifest",
    "BundleManifest": "prefixes.bundle.manifest",
    "BundleMember": "prefixes.bundle.manifest",
    "RegistryRef": "prefixes.bundle.manifest",
    "read_manifest": "prefixes.bundle.manifest",
    "write_manifest": "prefixes.bundle.manifest",
    "build_manifest": "prefixes.bundle.members",
    "MultiTaskModel": "prefixes.bundle.model",
    "PredictRequest": "prefixes.bundle.serving",
    "RoutedLinear": "prefixes.bundle.heads",
}

__all__ = list(sorted(_EXPORTS))


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'prefixes.bundle' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value

"""Multi-task bundles: every task's prefix over one frozen base model, served in mixed batches.

``manifest`` (what a bundle holds, as JSON), ``members`` (pinning and checking the members),
``heads`` (per-task classification heads), ``model`` (MultiTaskModel), ``serving`` (text requests).

Names are imported on first use, so building or reading a manifest does not load torch.
"""

from __future__ import annotations

from prefixes.lazy import lazy_exports

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


__getattr__ = lazy_exports(__name__, _EXPORTS)

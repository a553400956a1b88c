"""Multi-task bundles: every task's prefix over one frozen base model, served in mixed batches.

``manifest`` (what a bundle holds, as JSON), ``members`` (pinning and checking the members),
``heads`` (per-task classification heads), ``model`` (MultiTaskModel), ``serving`` (text requests).
"""

from prefixes.bundle.heads import RoutedLinear
from prefixes.bundle.manifest import (
    BaseModelRef,
    BundleError,
    BundleManifest,
    BundleMember,
    RegistryRef,
    read_manifest,
    write_manifest,
)
from prefixes.bundle.members import build_manifest
from prefixes.bundle.model import MultiTaskModel
from prefixes.bundle.serving import PredictRequest

__all__ = [
    "BaseModelRef",
    "BundleError",
    "BundleManifest",
    "BundleMember",
    "MultiTaskModel",
    "PredictRequest",
    "RegistryRef",
    "RoutedLinear",
    "build_manifest",
    "read_manifest",
    "write_manifest",
]

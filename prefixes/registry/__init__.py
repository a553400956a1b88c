"""Versioned registry of folded prefix artifacts, per task and method.

    from prefixes.registry import Registry
    registry = Registry("registry")
    entry = registry.publish("out/sst2-prefix", task="sst2", method="prefix", metrics={"acc": 0.91})
    registry.promote("sst2", "prefix", entry.metadata.version, "production")
    model = registry.get("sst2", "prefix", "production").load()

Versions are immutable and appear atomically; identical content is stored once; aliases are the
only mutable part and keep their full history. Method names are usually those of
`prefixes.methods.registry.method_names()`, but any valid name is accepted.
"""

from prefixes.registry.aliases import AliasEvent, AliasFile
from prefixes.registry.entry import Entry, Listing
from prefixes.registry.errors import (
    ArtifactError,
    EntryNotFoundError,
    IntegrityError,
    InvalidNameError,
    RegistryError,
    SchemaVersionError,
)
from prefixes.registry.metadata import MAX_METADATA_BYTES, SCHEMA_VERSION, EntryMetadata, FileRecord
from prefixes.registry.names import NAME_PATTERN
from prefixes.registry.store import Registry
from prefixes.registry.verify import Problem, VerifyReport

__all__ = [
    "MAX_METADATA_BYTES",
    "NAME_PATTERN",
    "SCHEMA_VERSION",
    "AliasEvent",
    "AliasFile",
    "ArtifactError",
    "Entry",
    "EntryMetadata",
    "EntryNotFoundError",
    "FileRecord",
    "IntegrityError",
    "InvalidNameError",
    "Listing",
    "Problem",
    "Registry",
    "RegistryError",
    "SchemaVersionError",
    "VerifyReport",
]

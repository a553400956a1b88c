"""Artifacts: ``prefix_config.json`` (schema, torch-free) + ``prefix.safetensors`` (weights).

``schema`` is what the registry and bundle manifests read without importing torch; ``weights``
writes and reads the tensors for the model code.
"""

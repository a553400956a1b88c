"""The pipeline's click commands: one thin module per DVC stage over the `prefixes` library."""

"""Benchmarks of prefixes against PEFT and the bare base model; see bench/README.md."""

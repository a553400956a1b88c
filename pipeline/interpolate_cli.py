"""`prefixes interpolate A B --alpha 0.3 --out DIR`: mix two saved adapters into a new artifact."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("interpolate")
@click.argument("first", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("second", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--alpha", required=True, type=click.FloatRange(0.0, 1.0),
              help="Weight of SECOND: 0 writes FIRST's adapter, 1 SECOND's.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the new artifact (safetensors, JSON config and model card).")
def interpolate(first: Path, second: Path, alpha: float, out_dir: Path) -> None:
    """Write (1 - alpha) * FIRST + alpha * SECOND: two artifact folders of one kind (prefix or
    prompt) over the same base model, with the same adapter length, task and labels."""
    from prefixes.interpolation import interpolate_models  # torch loads only when the command runs

    model = interpolate_models(first, second, alpha)
    written = model.save_pretrained(out_dir)
    click.echo(f"wrote {written} ({1 - alpha:g} x {first} + {alpha:g} x {second})")

"""`prefixes interpolate A B --alpha 0.3 --out DIR`: mix two saved adapters into a new artifact."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("interpolate")
@click.argument("first", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("second", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--alpha", required=True, type=click.FloatRange(0.0, 1.0),
              help="Weight of FIRST: 1 writes FIRST's adapter, 0 SECOND's.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the new artifact (safetensors, JSON config and model card).")
def interpolate(first: Path, second: Path, alpha: float, out_dir: Path) -> None:
    """Write alpha * FIRST + (1 - alpha) * SECOND: two artifact folders of one kind (prefix or
    prompt) over the same base model, with the same adapter length, task and labels."""
    _check_out_dir(out_dir, first, second)
    from prefixes.interpolation import interpolate_models  # torch loads only when the command runs

    model = interpolate_models(first, second, alpha)
    written = model.save_pretrained(out_dir)
    click.echo(f"wrote {written} ({alpha:g} x {first} + {1 - alpha:g} x {second})")


def _check_out_dir(out_dir: Path, *inputs: Path) -> None:
    """Refuse, before any work, an --out that would overwrite an input or write through a link."""
    if out_dir.is_symlink():
        raise click.BadParameter(f"{out_dir} is a symbolic link; give a plain folder path", param_hint="--out")
    for source in inputs:
        if out_dir.resolve() == source.resolve():
            raise click.BadParameter(f"{out_dir} is the input {source}; write the mix to a new folder",
                                     param_hint="--out")

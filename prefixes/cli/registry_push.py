"""`prefixes registry push TASK --method M --version V --repo-id R`: one registry version onto the Hub.

The version goes up as stored (its files are re-hashed against the registry's record first), through
`prefixes.hub.push_to_hub`. Registered on the `registry` group by `prefixes.cli.registry`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from prefixes.registry import Registry


@click.command("push")
@click.argument("task")
@click.option("--method", required=True, help="The method the version was trained with.")
@click.option("--version", default="latest", show_default=True, help="'latest', 'vN' or an alias.")
@click.option("--repo-id", required=True, help="Hub model repository, e.g. your-name/bbc-news-prefix (created if missing).")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", help="Branch to push to (default: the repository's main branch).")
@click.option("--create-pr", is_flag=True, help="Open a pull request instead of committing to the branch.")
@click.option("--registry", "registry_dir", default="registry", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Registry root directory.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def push(task: str, method: str, version: str, repo_id: str, private: bool, revision: str | None, create_pr: bool,
         registry_dir: Path, as_json: bool) -> None:
    """Upload VERSION of TASK/METHOD (files, model card, metadata) to the Hub repository REPO_ID.

    Needs the network and a token: run with HF_HUB_OFFLINE=0 after `hf auth login` (or set HF_TOKEN).
    """
    from huggingface_hub.errors import HfHubHTTPError

    from prefixes.hub import push_to_hub  # loads huggingface_hub only when pushing

    entry = Registry(registry_dir).get(task, method, version)
    problems = entry.verify()
    if problems:
        raise click.ClickException(
            f"refusing to push {entry.ref}: its files do not match the hashes recorded at publish time "
            f"({'; '.join(map(str, problems))}); restore it from git and run `prefixes registry verify`"
        )
    message = f"Upload {entry.ref} (digest {entry.metadata.digest[:16]}) from a prefixes registry"
    try:
        commit = push_to_hub(entry.path, repo_id, private=True if private else None, revision=revision,
                             commit_message=message, create_pr=create_pr)
    except (ConnectionError, FileNotFoundError, HfHubHTTPError) as error:
        raise click.ClickException(" ".join(str(error).split())) from None  # one line, as every registry error
    if as_json:
        click.echo(json.dumps({"ref": entry.ref, "digest": entry.metadata.digest, "repo_id": repo_id,
                               "commit_url": commit.commit_url}))
    else:
        click.echo(f"pushed {entry.ref} to {repo_id}: {commit.commit_url}")

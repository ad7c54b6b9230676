"""``reporter review ...``: the reviewer's commands, on an offline machine.

Import verifies and decrypts bundles into the review database; the other
commands read it. Long operations show a progress bar on a terminal and stay
quiet when output is piped.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import read_passphrase
from .reviewdb import ReviewDB, review_db_path


class ReviewContext:
    def __init__(self, path: Path, passphrase_file: Path | None) -> None:
        self.path = path
        self.passphrase_file = passphrase_file

    def passphrase(self, *, new: bool = False) -> str:
        return read_passphrase(file=self.passphrase_file, env="REPORTER_REVIEW_PASSPHRASE",
                               prompt="Review database passphrase", confirm=new)

    def open(self) -> ReviewDB:
        return ReviewDB.open(self.path, self.passphrase())

    def open_or_create(self) -> ReviewDB:
        if not self.path.exists():
            click.echo(f"Creating the review database {self.path}", err=True)
            return ReviewDB.create(self.path, self.passphrase(new=True))
        return self.open()


pass_review = click.make_pass_decorator(ReviewContext)


@click.group()
@click.option("--review-db", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The review database (default: $REPORTER_REVIEW_DB or ./review.db).")
@click.option("--review-passphrase-file", type=click.Path(path_type=Path, dir_okay=False),
              default=None,
              help="Read the review database passphrase from this file's first line "
                   "(otherwise $REPORTER_REVIEW_PASSPHRASE, or a prompt).")
@click.pass_context
def review(ctx: click.Context, review_db: Path | None,
           review_passphrase_file: Path | None) -> None:
    """Verify, import, read and export reports (reviewers, offline)."""
    ctx.obj = ReviewContext(review_db_path(review_db), review_passphrase_file)

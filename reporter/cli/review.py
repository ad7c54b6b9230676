"""``reporter review ...``: the reviewer's command group, on an offline machine.

Import verifies and decrypts bundles into the review database; the other
commands read it (``attachments`` writes a report's attachments out of it).
Long operations show a progress bar on a terminal and stay quiet when output
is piped.

This module holds the group itself, its options (which review database, whose
passphrase) and the context every subcommand opens the database through; the
subcommands live in modules of their own (``review_list.py``, ``review_show.py``,
``review_export.py``, ``bundles.py``, ``review_recipients.py``,
``review_serve.py``), and ``main.py`` adds them to the group.
"""

from __future__ import annotations

from pathlib import Path

import click

from reporter.cli.common import noun, read_passphrase
from reporter.cli.terminal import echo
from reporter.review.db import ReviewDB, review_db_path
from reporter.review.recipients import pending as pending_recipient_changes


class ReviewContext:
    def __init__(self, path: Path, passphrase_file: Path | None) -> None:
        self.path = path
        self.passphrase_file = passphrase_file

    def passphrase(self, *, new: bool = False) -> str:
        return read_passphrase(file=self.passphrase_file, env="REPORTER_REVIEW_PASSPHRASE",
                               prompt="Review database passphrase", confirm=new,
                               option="--review-passphrase-file")

    def open(self) -> ReviewDB:
        db = ReviewDB.open(self.path, self.passphrase())
        try:
            remind(db)
        except BaseException:
            db.close()
            raise
        return db

    def open_or_create(self) -> ReviewDB:
        if not self.path.exists():
            echo(f"Creating the review database {self.path}", err=True)
            return ReviewDB.create(self.path, self.passphrase(new=True))
        return self.open()


pass_review = click.make_pass_decorator(ReviewContext)


def remind(db: ReviewDB) -> None:
    """On every command: a line per station whose recipients changed in a bundle and
    the change is not accepted yet (``reporter/review/recipients.py``)."""
    for station_id, numbers in pending_recipient_changes(db).items():
        many = len(numbers) > 1
        echo(f"WARNING: station {station_id.hex()[:8]}: {noun(len(numbers), 'bundle')} "
             f"{', '.join(map(str, numbers))} {'are' if many else 'is'} sealed to other keys "
             "than the pinned ones, and the change is not accepted: 'reporter review "
             "recipients' shows it", err=True)


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

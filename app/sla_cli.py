"""`flask sla check` (one pass of the SLA warnings, for cron) and `flask sla recompute [--check]`
(the stored SLA figures against the timelines)."""
import click
from flask import Flask
from flask.cli import AppGroup

from app.cli import refusals_as_messages
from app.incidents import sla_recompute, sla_warnings
from app.models import utcnow

SHOWN_DRIFTS = 5


@click.group("sla", cls=AppGroup)  # each command runs in an app context
def sla_group() -> None:
    """SLA warnings and the stored clocks."""


@sla_group.command("check")
def check_command() -> None:
    """Write the SLA warnings and breaches due now (what the background loop does every
    SLA_CHECK_SECONDS); exit 1 if an incident could not be checked."""
    result = sla_warnings.check(utcnow())
    click.echo(f"Checked {result.visited} incident(s) due: wrote {result.warnings} SLA warning(s) and "
               f"{result.breaches} breach(es).")
    if result.failed:
        shown = ", ".join(f"INC-{incident_id}" for incident_id in result.failed[:SHOWN_DRIFTS])
        raise click.ClickException(f"{len(result.failed)} incident(s) could not be checked ({shown}); "
                                   "see the log above.")


@sla_group.command("recompute")
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; exit 1 listing the incidents whose stored figures drifted.")
@click.option("--batch", default=sla_recompute.BATCH, show_default=True, type=click.IntRange(min=1),
              help="Incidents read per step.")
def recompute_command(check_only: bool, batch: int) -> None:
    """Rebuild every incident's SLA figures from its timeline (or, with --check, compare only)."""
    result = sla_recompute.recompute(check_only=check_only, batch=batch)
    if not check_only:
        click.echo(f"Checked {result.checked} incident(s): {result.drifted} drifted, {result.fixed} fixed.")
        return
    click.echo(f"Checked {result.checked} incident(s): {result.drifted} drifted.")
    if not result.drifted:
        return
    for drift in result.examples[:SHOWN_DRIFTS]:
        for name, (stored, derived) in drift.fields.items():
            click.echo(f"  INC-{drift.incident_id} {name}: stored {sla_recompute.describe(stored)}, "
                       f"timeline gives {sla_recompute.describe(derived)}")
    if result.drifted > SHOWN_DRIFTS:
        click.echo(f"  ... and {result.drifted - SHOWN_DRIFTS} more incident(s).")
    raise click.ClickException("The stored SLA figures drifted from the timelines; "
                               "`flask sla recompute` rebuilds them.")


def init_app(app: Flask) -> None:
    """Register `flask sla`."""
    app.cli.add_command(refusals_as_messages(sla_group))

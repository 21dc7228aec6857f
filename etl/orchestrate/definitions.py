"""The Dagster definitions of amili-etl: creditor partitions, the inbox and month-end assets, sensors, schedule.

Built by build_definitions(registry) so tests can build them for a registry of their own; etl.orchestrate.dagster
builds them for the registry in AMILI_ETL_REGISTRY. Every run calls amili-etl (etl.orchestrate.runs), never
anything below it: the CLI's exit codes and summary stay the contract, mapped here to success, retry or failure.
"""


import datetime as dt
import json
from pathlib import Path
from typing import Any

import dagster as dg

from etl.orchestrate.limits import CREDITOR_TAG, concurrency_settings, run_tags
from etl.errors import EtlError
from etl.orchestrate.registry import CreditorEntry, Registry, load_registry, load_settings
from etl.orchestrate.runs import Outcome, inbox_run, month_end_run
from etl.orchestrate.watch import pending

__all__ = ["PARTITIONS", "CREDITOR_TAG", "creditor_partitions", "build_definitions", "AmiliRegistry", "InboxRunConfig",
           "MonthEndConfig", "previous_month", "creditor_inbox", "creditor_month_end", "creditor_registry_sensor",
           "inbox_sensor"]

PARTITIONS = "creditor"
creditor_partitions = dg.DynamicPartitionsDefinition(name=PARTITIONS)
INBOX_JOB = "creditor_inbox_job"
MONTH_END_JOB = "creditor_month_end_job"


class AmiliRegistry(dg.ConfigurableResource):
    """Where the creditor registry is (a folder of amili-etl.toml files, or one file); read anew on every use."""

    path: str

    def load(self) -> Registry:
        """The registry as it is now."""
        return load_registry(Path(self.path))


class InboxRunConfig(dg.Config):
    """A creditor's inbox run: --force, and how often exit 4 / 75 (nothing lost, retry later) is retried."""

    force: bool = False
    max_retries: int = 3
    retry_wait_s: int = 600


class MonthEndConfig(dg.Config):
    """The month to close (YYYY-MM), whether Amili is read back, and how often exit 75 is retried."""

    period: str
    readback: bool = True
    max_retries: int = 1
    retry_wait_s: int = 600


def _metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Plain values as Dagster metadata: paths as paths, tables of counts as JSON."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, Path):
            out[key] = dg.MetadataValue.path(str(value))
        elif isinstance(value, dict):
            out[key] = dg.MetadataValue.json(value)
        else:
            out[key] = value
    return out


def _finish(context: dg.AssetExecutionContext, what: str, outcome: Outcome, max_retries: int = 0,
            retry_wait_s: int = 0) -> dg.MaterializeResult:
    """Exit 0/1: materialized with the summary. 4/75: retried (op retry) while retries last. Else: failed."""
    tags = {"amili-etl/exit_code": str(outcome.exit_code)}
    if isinstance(outcome.metadata.get("status"), str):
        tags["amili-etl/status"] = outcome.metadata["status"]
    if isinstance(outcome.metadata.get("workbook"), Path):
        tags["amili-etl/workbook"] = str(outcome.metadata["workbook"])
    context.instance.add_run_tags(context.run.run_id, tags)
    context.log.info(f"{what}: {outcome.message}")
    if outcome.ok:
        return dg.MaterializeResult(metadata=_metadata(outcome.metadata))
    if outcome.retryable and context.retry_number < max_retries:
        context.log.warning(f"{what}: exit {outcome.exit_code}, retry {context.retry_number + 1} of {max_retries} "
                            f"in {retry_wait_s} s (nothing is sent twice: amili-etl's outbox)")
        raise dg.RetryRequested(max_retries=max_retries, seconds_to_wait=retry_wait_s)
    raise dg.Failure(description=f"{what}: exit {outcome.exit_code} ({outcome.metadata.get('meaning', '?')}): "
                                 f"{outcome.message}", metadata=_metadata(outcome.metadata), allow_retries=False)


def _entry(registry: AmiliRegistry, name: str) -> CreditorEntry:
    """The partition's creditor; a registry that cannot be read, or has no such creditor now, fails the run (exit 2)."""
    try:
        return registry.load().entry(name)
    except EtlError as exc:
        raise dg.Failure(description=f"{name}: {exc}", metadata={"exit_code": exc.exit_code},
                         allow_retries=False) from None


@dg.asset(partitions_def=creditor_partitions, group_name="amili_etl",
          description="One creditor's night: `amili-etl inbox` over its inbox folder (new files run, then archived, "
                      "failed or left), delivered to Amili exactly once.")
def creditor_inbox(context: dg.AssetExecutionContext, config: InboxRunConfig,
                   registry: AmiliRegistry) -> dg.MaterializeResult:
    """Run the creditor's inbox; the run summary (counts, sent per API, report paths) as metadata."""
    entry = _entry(registry, context.partition_key)
    return _finish(context, f"inbox {entry.name}", inbox_run(entry, config.force), config.max_retries,
                   config.retry_wait_s)


@dg.asset(partitions_def=creditor_partitions, group_name="amili_etl", deps=[creditor_inbox],
          description="One creditor's month-end: `amili-etl reconcile --period` (Amili read back, breaks aged); "
                      "the workbook path and status as metadata and run tags.")
def creditor_month_end(context: dg.AssetExecutionContext, config: MonthEndConfig,
                       registry: AmiliRegistry) -> dg.MaterializeResult:
    """Close the month for the creditor."""
    entry = _entry(registry, context.partition_key)
    return _finish(context, f"month-end {config.period} {entry.name}",
                   month_end_run(entry, config.period, config.readback), config.max_retries, config.retry_wait_s)


inbox_job = dg.define_asset_job(INBOX_JOB, selection=[creditor_inbox])
month_end_job = dg.define_asset_job(MONTH_END_JOB, selection=[creditor_month_end])


@dg.sensor(name="creditor_registry_sensor", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a `creditor` partition for every creditor of the registry, removes those gone from it.")
def creditor_registry_sensor(context: dg.SensorEvaluationContext, registry: AmiliRegistry) -> dg.SensorResult:
    """The registry's creditors against the instance's partitions."""
    reg = registry.load()
    for problem in reg.problems:
        context.log.warning(f"registry: {problem}")
    _warn_about_limits(context, reg)
    known = set(context.instance.get_dynamic_partitions(PARTITIONS))
    add = sorted(set(reg.creditors) - known)
    # A config file that cannot be read hides its creditors: remove nothing until the registry reads cleanly.
    remove = [] if reg.problems else sorted(known - set(reg.creditors))
    requests: list[Any] = []
    if add:
        requests.append(creditor_partitions.build_add_request(add))
    if remove:
        requests.append(creditor_partitions.build_delete_request(remove))
    if not requests:
        return dg.SensorResult(skip_reason=f"registry unchanged: {len(known)} creditor(s)")
    return dg.SensorResult(dynamic_partitions_requests=requests)


def _warn_about_limits(context: dg.SensorEvaluationContext, reg: Registry) -> None:
    """Log once per tick when the instance lacks the creditor / family limits (dagster.yaml, docs/orchestration.md)."""
    queue = context.instance.get_concurrency_config().run_queue_config
    have = {(lim.get("key"), lim.get("limit")) for lim in (queue.tag_concurrency_limits if queue else None) or []}
    want = {(lim["key"], lim["limit"]) for lim in concurrency_settings(reg.settings)["runs"]["tag_concurrency_limits"]}
    if not want <= have:
        context.log.warning("the Dagster instance lacks amili-etl's run limits (one run per creditor, [pools] per "
                            "API family): add `python -m etl.orchestrate.limits` to dagster.yaml")


def inbox_sensor(interval_s: int = 30) -> dg.SensorDefinition:
    """The inbox sensor, looking every `interval_s` seconds ([inbox] interval_s of orchestration.toml)."""

    @dg.sensor(name="creditor_inbox_sensor", job=inbox_job, minimum_interval_seconds=interval_s,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Requests a creditor's inbox run when new files wait in its inbox folder; run_key = a hash "
                           "of the files' sha256s (and drop times), so the same files never start two runs.")
    def creditor_inbox_sensor(context: dg.SensorEvaluationContext, registry: AmiliRegistry) -> dg.SensorResult:
        """One look at every creditor's inbox; the cursor keeps each creditor's last run key and file hashes."""
        reg = registry.load()
        cursor = json.loads(context.cursor) if context.cursor else {}
        runs: list[dg.RunRequest] = []
        kept: dict[str, Any] = {}
        for name in context.instance.get_dynamic_partitions(PARTITIONS):
            entry = reg.creditors.get(name)
            if entry is None:
                continue
            last = cursor.get(name, {})
            found = pending(name, entry.inbox, {k: tuple(v) for k, v in last.get("seen", {}).items()})
            if found.run_key is None:
                continue
            kept[name] = {"key": found.run_key, "seen": found.seen}
            if found.run_key != last.get("key"):  # the same files as the last look: their run was requested already
                runs.append(dg.RunRequest(run_key=found.run_key, partition_key=name, tags=run_tags(entry)))
        new_cursor = json.dumps(kept, sort_keys=True)
        if not runs:
            return dg.SensorResult(skip_reason="no new files in any inbox", cursor=new_cursor)
        return dg.SensorResult(run_requests=runs, cursor=new_cursor)

    return creditor_inbox_sensor


def previous_month(when: dt.datetime) -> str:
    """YYYY-MM of the month before `when` (the month a month-end run closes)."""
    first = when.date().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def _month_end_schedule(cron: str, timezone: str) -> dg.ScheduleDefinition:
    @dg.schedule(name="creditor_month_end_schedule", cron_schedule=cron, execution_timezone=timezone,
                 job=month_end_job, default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Closes last month for every creditor partition (`amili-etl reconcile --period`).")
    def creditor_month_end_schedule(context: dg.ScheduleEvaluationContext,
                                    registry: AmiliRegistry) -> list[dg.RunRequest] | dg.SkipReason:
        when = context.scheduled_execution_time or dt.datetime.now(dt.timezone.utc)
        period = previous_month(when)
        reg = registry.load()
        runs = [dg.RunRequest(run_key=f"month-end-{period}-{name}", partition_key=name,
                              run_config=dg.RunConfig(ops={"creditor_month_end": MonthEndConfig(period=period)}),
                              tags={**run_tags(reg.creditors[name]), "amili-etl/period": period})
                for name in context.instance.get_dynamic_partitions(PARTITIONS) if name in reg.creditors]
        return runs or dg.SkipReason("no creditor partitions yet")

    return creditor_month_end_schedule


def build_definitions(registry: Path) -> dg.Definitions:
    """The code location for the registry at `registry` (its orchestration.toml read now, its creditors per tick)."""
    settings = load_settings(registry)
    return dg.Definitions(
        assets=[creditor_inbox, creditor_month_end],
        jobs=[inbox_job, month_end_job],
        sensors=[creditor_registry_sensor, inbox_sensor(settings.inbox_interval_s)],
        schedules=[_month_end_schedule(settings.month_end_cron, settings.month_end_timezone)],
        resources={"registry": AmiliRegistry(path=str(registry.resolve()))},
    )



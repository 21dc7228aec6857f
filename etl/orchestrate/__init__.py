"""Running amili-etl under an orchestrator; only etl.orchestrate.dagster and .definitions import dagster."""

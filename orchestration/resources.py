"""Dagster resources: the run's settings and the dbt CLI."""

import dagster as dg

from orchestration.settings import Settings


class CdpSettings(dg.ConfigurableResource):
    """The pipeline's configuration, read from the environment when a run starts."""

    def load(self) -> Settings:
        """Return the settings resolved from the environment.

        Returns:
            The run's settings.
        """
        return Settings.from_env()

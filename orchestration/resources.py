"""Resources: paw's settings, read from the environment when a run starts (never at import)."""

import dagster as dg

from paw.settings import Settings


class PawSettings(dg.ConfigurableResource):
    """PAW_LANDING_URL, PAW_LAKE_URL, PAW_WAREHOUSE and the AWS variables, as one object."""

    def get(self) -> Settings:
        return Settings.from_env()

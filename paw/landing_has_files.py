"""Prints the first landing file, or nothing: `make run` generates sample data when empty."""

from ingestion.land import is_landing_file
from ingestion.storage import open_storage
from paw.settings import Settings

if __name__ == "__main__":
    settings = Settings.from_env()
    for obj in open_storage(settings.landing_url, settings.s3).list():
        if is_landing_file(obj.key):
            print(obj.key)
            break

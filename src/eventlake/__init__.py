"""eventlake: events into Kafka, into a Parquet lake, into SQL and live dashboards."""

from eventlake.config import Settings, load_settings
from eventlake.errors import EventlakeError

__version__ = "0.1.0"

__all__ = ["EventlakeError", "Settings", "__version__", "load_settings"]

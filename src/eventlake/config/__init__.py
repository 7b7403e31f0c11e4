"""One typed settings object, loaded once at the edge (CLI, app factory, notebook)."""

from eventlake.config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]

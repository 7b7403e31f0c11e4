"""What eventlake needs from this machine to run its local servers: a Java runtime,
a cache folder for downloaded jars, and free ports. Below every stage: imports no stage."""

from eventlake.runtime.cache import default_cache_dir
from eventlake.runtime.java import JavaNotFound, JavaRuntime, find_java
from eventlake.runtime.ports import free_port

__all__ = ["JavaNotFound", "JavaRuntime", "default_cache_dir", "find_java", "free_port"]

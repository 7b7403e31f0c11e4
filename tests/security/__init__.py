"""Attacks on eventlake: SQL, the dashboard, the broker."""

"""Peer programs run as scripts by each peer's own interpreter (bench/.venvs/<peer>)."""

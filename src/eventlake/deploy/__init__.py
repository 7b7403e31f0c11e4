"""Deploying the broker to AWS: the EC2 instance's own bootstrap (user data) and what it publishes."""

"""Reusable L3 constructs of the kit. Each one deploys one thing with secure defaults."""

"""What an admin watches while the app runs: Prometheus metrics and health endpoints."""

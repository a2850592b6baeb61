"""Background work, run by every `serve` process (started in the app's lifespan): import
jobs and webhook deliveries. Work is claimed from the database with leases, so any number
of processes can share it; each job is a service call, idempotent and resumable."""

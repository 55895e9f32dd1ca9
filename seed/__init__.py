"""Demo data: users and sample incidents as JSON, replayed through the real service functions."""

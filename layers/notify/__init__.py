"""Shared package of the idempotent notification API: models, logic, dal and observability."""

"""Shared package of the idempotent notification API: models, logic, dal and observability.

Rule ids named in docstrings, comments and test names (R, D, P, L, S, K, M, C) are those of docs/contract.md,
one anchor each (`docs/contract.md#r4`).
"""

"""Shared package of the idempotent notification API: models, logic, dal and observability.

Rule ids named in docstrings, comments and test names (R1-R9, D1-D8, P1-P6, L1-L6) are those of docs/contract.md,
one anchor each (`docs/contract.md#r4`).
"""

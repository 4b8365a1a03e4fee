"""The operator's command (`python -m notify_admin`): API keys, definitions, redrives, profiles, `doctor`.

It runs on an operator's machine with the operator's AWS credentials, never in a function: it lives outside the
Lambda layer, which ships only what the functions run.
"""

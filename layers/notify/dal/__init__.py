"""Data access: the only package that creates boto3 clients."""

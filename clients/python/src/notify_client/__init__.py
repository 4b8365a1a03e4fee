"""A Python client for the idempotent notification API and Fyno's: a key on every call, the same key on every retry."""

from notify_client._client import Client, Profiles, __version__
from notify_client._errors import ApiError, NotifyError, Result, TransportError
from notify_client._retry import RetryPolicy

__all__ = ["ApiError", "Client", "NotifyError", "Profiles", "Result", "RetryPolicy", "TransportError", "__version__"]

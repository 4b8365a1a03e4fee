"""`python -m local` (what `make run` runs): the local stack of local/stack.py until Ctrl-C or SIGTERM."""

from __future__ import annotations

import sys

from local.dynamodb_local import DynamoDBLocalUnavailable
from local.settings import InvalidSetting, LocalSettings, PortInUse
from local.signals import StopRequested, ignore_stop_signals, stop_on_signals, wait_for_stop
from local.stack import LocalStack


def main() -> int:
    stop_on_signals()
    try:
        settings = LocalSettings.from_environment()
        stack = LocalStack(settings)
    except (PortInUse, InvalidSetting) as exc:
        print(exc, file=sys.stderr)
        return 1
    except StopRequested:
        return 0
    try:
        stack.start()
        stack.announce()
        wait_for_stop()
    except StopRequested:
        print("local stack stopping", flush=True)
        return 0
    except DynamoDBLocalUnavailable as exc:
        print(f"local stack: LOCAL_DYNAMODB=dynamodb-local: {exc}", file=sys.stderr)
        return 1
    except InvalidSetting as exc:
        print(f"local stack: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the shutdown short.
        ignore_stop_signals()
        stack.close()


sys.exit(main())

"""The bootstrap every SQS-fed function shares (the sender, the reporter): `functions/<name>/app.py` names its
record handler and exports what `queue_function` returns as `lambda_handler`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from notify.environment import require_environment
from notify.observability import counts_per_invocation, logger, metrics, tracer

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    Handler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


def queue_function(name: str, record_handler: Callable[[SQSRecord], None]) -> Handler:
    """Run at cold start: the environment check (stop here, naming the variable, when the template did not give
    one `name` needs), one batch processor, and the handler with its Logger, Tracer and Metrics decorators.
    `record_handler` takes one message; raising reports it as a batch item failure, so SQS redelivers only it.
    Every outside call a record makes is bounded by what is left of the invocation (notify.deadline): a slow
    provider or a hung receiver cannot make Lambda time out the whole batch. Counts with a breakdown (the sender's
    outcomes per channel) are added up and written once per batch, not once per message (docs/bench.md)."""
    require_environment(name)
    processor = BatchProcessor(event_type=EventType.SQS)
    traced = tracer.capture_method(record_handler)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        from notify.logic import budget

        token = budget.start_invocation(context)
        try:
            with counts_per_invocation():
                return process_partial_response(
                    event=event, record_handler=traced, processor=processor, context=context
                )
        finally:
            budget.end_invocation(token)

    return lambda_handler

"""An HTTP opener for notify.logic.providers.webhooks.HttpClient that answers from a script: nothing leaves the
process, and every URL asked for is kept."""

from __future__ import annotations

from notify.logic.providers.webhooks import CheckedUrl, HttpResponse


class ScriptedOpener:
    """Answers per path prefix from a script (the last answer repeats); `calls` holds each URL asked for."""

    def __init__(self, answers: dict[str, list[HttpResponse]]) -> None:
        self.answers = answers
        self.calls: list[CheckedUrl] = []

    @classmethod
    def always(cls, response: HttpResponse) -> ScriptedOpener:
        """Answers every call with `response`."""
        return cls({"": [response]})

    def __call__(
        self, url: CheckedUrl, method: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> HttpResponse:
        self.calls.append(url)
        [script] = [answers for prefix, answers in self.answers.items() if url.target.startswith(prefix)]
        return script.pop(0) if len(script) > 1 else script[0]

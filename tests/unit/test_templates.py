"""Channel templates: Jinja2's sandbox, strict about undefined fields, HTML escaped only where it is HTML."""

from __future__ import annotations

import pytest

from notify.logic.templates import TemplateRenderError, render_channel_template
from notify.models.definitions import ChannelTemplate


def test_body_subject_and_extras_are_filled_from_data() -> None:
    template = ChannelTemplate.model_validate(
        {
            "subject": "Order {{ id }}",
            "body": "{{ items | join(', ') }}",
            "html": "<p>{{ note }}</p>",
            "tags": ["{{ id }}"],
        }
    )

    rendered = render_channel_template(template, {"id": "A1", "items": ["tea", "cake"], "note": "<b>hi</b>"})

    assert (rendered.subject, rendered.body) == ("Order A1", "tea, cake")
    assert rendered.extras == {"html": "<p>&lt;b&gt;hi&lt;/b&gt;</p>", "tags": ["A1"]}


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("Hi {{ name }}", "UndefinedError: 'name' is undefined"),
        ("{{ ''.__class__.__mro__ }}", "SecurityError"),
        ("{{ cycler.__init__.__globals__ }}", "SecurityError"),
        ("{{ 'x' * 100000000 }}", "SecurityError: repetition is too large"),
        ("{{ 9 ** 9999999 }}", "SecurityError: exponent is too large"),
        ("{% for x in range(999999999) %}{% endfor %}", "OverflowError"),
        ("{{ unclosed", "TemplateSyntaxError"),
    ],
)
def test_faulty_or_hostile_templates_fail_with_a_reason(source: str, reason: str) -> None:
    with pytest.raises(TemplateRenderError, match=reason):
        render_channel_template(ChannelTemplate(body=source), {})

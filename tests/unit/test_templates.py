"""Channel templates: Jinja2's sandbox, strict about undefined fields, HTML escaped only where it is HTML."""

from __future__ import annotations

import tracemalloc

import pytest

from notify.logic import templates
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


# Issue 18: each of these made hundreds of megabytes or ran past 10 s before the size bound, checked only on the
# rendered text, could see it. Now each is refused as it is made, with its memory bounded.
EXHAUSTING = {
    "repeat-product": "{{ ('x' * 10000) * 10000 }}",
    "percent-width": "{{ '%100000000s' % 'x' }}",
    "percent-precision": "{{ '%.100000000f' % 1.0 }}",
    "percent-width-from-arguments": "{{ '%*s' % (100000000, 'x') }}",
    "percent-repeated-arguments": "{{ ('%s' * 1000) % ((big,) * 1000) }}",
    "center-method": "{{ 'x'.center(100000000) }}",
    "center-filter": "{{ 'x' | center(100000000) }}",
    "ljust": "{{ 'x'.ljust(100000000) }}",
    "zfill": "{{ '1'.zfill(100000000) }}",
    "expandtabs": "{{ 'a\tb'.expandtabs(100000000) }}",
    "str-format-width": "{{ '{:>100000000}'.format('x') }}",
    "str-format-width-from-arguments": "{{ '{:{w}}'.format('x', w=100000000) }}",
    "format-filter": "{{ '%100000000s' | format('x') }}",
    "indent": "{{ 'x' | indent(100000000, true) }}",
    "wordwrap": "{{ ('x ' * 5000) | wordwrap(1, wrapstring=big) }}",
    "replace-method": "{{ big.replace('y', 'z' * 100) }}",
    "replace-filter": "{{ ('x' * 1000) | replace('x', big) }}",
    "join-method": "{{ big.join(['a'] * 10000) }}",
    "join-filter": "{{ (['a'] * 10000) | join(big) }}",
    "sum-of-lists": "{{ ([['x'] * 10000] * 10000) | sum(start=[]) | length }}",
    "batch-fill": "{{ [1] | batch(100000000, 'x') | list }}",
    "to-bytes": "{{ (1).to_bytes(100000000, 'big') }}",
    "doubling-concat": "{% set n = namespace(s='x') %}{% for i in range(64) %}{% set n.s = n.s ~ n.s %}{% endfor %}",
    "doubling-plus": "{% set n = namespace(s='x') %}{% for i in range(64) %}{% set n.s = n.s + n.s %}{% endfor %}",
    "doubling-list": "{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l) }}{% endfor %}",
    "squaring-number": "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
    "power-tower": "{{ ((9 ** 64) ** 64) ** 64 }}",
    "nested-loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested-loops-in-range": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "exponential-macro": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(64) }}",
    "buffered-output": "{% set x %}{% for i in range(10000) %}{{ big }}{% endfor %}{% endset %}{{ x | length }}",
    "output-past-the-limit": "{% for i in range(10000) %}{{ big }}{% endfor %}",
    "tojson-indent": "{{ [[[1]]] | tojson(indent=100000000) }}",
    "lipsum": "{{ lipsum(100000) }}",
}


@pytest.mark.parametrize("source", EXHAUSTING.values(), ids=EXHAUSTING.keys())
def test_exhausting_templates_fail_cleanly_within_bounded_memory(source: str) -> None:
    render_channel_template(ChannelTemplate(body="warm {{ big }}"), {"big": "y"})  # jinja2 imported and compiled
    tracemalloc.start()
    try:
        with pytest.raises(TemplateRenderError, match="template error"):
            render_channel_template(ChannelTemplate(body=source), {"big": "y" * 100_000})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("name", ["nested-loops-in-range", "exponential-macro"])
def test_loops_and_calls_are_bounded_by_steps_not_only_by_time(name: str) -> None:
    with pytest.raises(
        TemplateRenderError, match=rf"more than {templates.MAX_RENDER_STEPS} steps \(loop iterations and calls\)"
    ):
        render_channel_template(ChannelTemplate(body=EXHAUSTING[name]), {})


def test_ordinary_templates_still_render_within_the_bounds() -> None:
    template = ChannelTemplate.model_validate(
        {
            "subject": "{{ '%-6s|%.2f' % (id, total) }} {{ '{0}:{1:>4}'.format(id, n) }}",
            "body": (
                "{% macro line(item) %}{{ item.name | center(12) }}{{ item.qty | string | indent(2) }}{% endmacro %}"
                "{% for item in items %}{{ line(item) }};{% endfor %}{{ items | map(attribute='name') | join(', ') }}"
                " {{ ([1, 2] * 3) | sum }} {{ 'ab' * 3 }} {{ 2 ** 10 }} {{ items | tojson(indent=2) | length > 0 }}"
            ),
        }
    )
    items = [{"name": f"item{i}", "qty": i} for i in range(1000)]

    rendered = render_channel_template(template, {"id": "A1", "total": 9.5, "n": 7, "items": items})

    assert rendered.subject == "A1    |9.50 A1:   7"
    assert rendered.body.startswith("   item0    0;   item1    1;")
    assert rendered.body.endswith("item998, item999 9 ababab 1024 True")

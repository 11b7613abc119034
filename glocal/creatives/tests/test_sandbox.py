"""Injection attempts in HQ source and in zone values: never executed, never hanging (pure)."""

from __future__ import annotations

import pytest

from glocal.creatives import rendering, zones
from glocal.creatives.sandbox import RenderError, RenderLimit, SafeEnvironment, compile_source, render

ENV = SafeEnvironment(autoescape=True)


def run(source: str, **context: object) -> str:
    return render(compile_source(ENV, source), dict(context))


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''|attr('__class__') }}",
        "{{ (''|attr('__class__')|attr('__mro__'))[1] }}",
        "{{ '{0.__class__}'.format('') }}",
        "{{ '{0.__class__.__mro__}'.format_map({'0': ''}) }}",
        "{{ self.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ config }}{{ request }}{{ settings.SECRET_KEY }}",
    ],
)
def test_attribute_escapes_print_nothing_dangerous(source):
    try:
        out = run(source)
    except RenderError as exc:  # refused outright is fine too
        assert exc.code in {"unsafe", "render_failed"}
        return
    assert "class" not in out and "object" not in out and "SECRET" not in out and "module" not in out


def test_percent_format_only_reads_plain_keys():
    assert run("{{ '%(x)s' % {'x': 1} }}") == "1"


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("{% for i in range(10**9) %}x{% endfor %}", "number_too_large"),
        ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "too_much_work"),
        (
            "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
            "too_much_work",
        ),
        ("{{ 'x' * 10**9 }}", "too_big"),
        ("{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}", "output_too_large"),
        ("{{ 'x'|center(10**9) }}", "number_too_large"),
        ("{{ 'a'|indent(10**8) }}", "number_too_large"),
        ("{{ '%999999999s' % 'x' }}", "too_big"),
        ("{{ '{0:>999999999}'.format(1) }}", "too_big"),
        ("{{ range(100000)|map('string')|join('x' * 100) }}", "too_big"),
        ("{{ ('x' * 1000).replace('', 'y' * 1000) }}", "too_big"),
        (
            "{% set ns = namespace(x=2) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
            "too_big",
        ),
        ("{{ 10 ** 100000 }}", "too_big"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "too_deep"),
        ("{% set l = [] %}{{ l.append(1) }}", "unsafe"),
        # Output captured away from the streamed output is counted too.
        ("{% set x %}{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}{% endset %}", "too_big"),
        ("{% set x %}{% for i in range(100000) %}" + "z" * 100 + "{% endfor %}{% endset %}", "too_big"),
        (
            "{% filter upper %}{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}{% endfilter %}",
            "too_big",
        ),
        (
            "{% macro m() %}{{ 'y' * 1000 }}{% endmacro %}"
            "{% set x %}{% for i in range(10000) %}{{ m() }}{% endfor %}{% endset %}",
            "too_big",
        ),
        (
            "{% set ns = namespace(s='x' * 100000) %}"
            "{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "too_big",
        ),
    ],
)
def test_runaway_templates_stop_with_a_controlled_error(source, code):
    # The clock is the last resort: a loaded machine must not turn a size or depth limit into a
    # time-out, so the wall-clock budget here is far above what any of these reaches its limit in.
    time_limit = 2.0 if code == "too_slow" else 120.0
    with pytest.raises(RenderError) as caught:
        render(compile_source(ENV, source), {}, time_limit=time_limit)
    assert caught.value.code == code
    assert caught.value.text  # a translatable, human message


def test_the_work_budget_and_deadline_are_enforced():
    source = "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"
    with pytest.raises(RenderLimit) as caught:
        render(compile_source(ENV, source), {}, max_ops=10_000)
    assert caught.value.code == "too_much_work"
    with pytest.raises(RenderLimit) as caught:
        render(compile_source(ENV, source), {}, time_limit=-1)  # the deadline has already passed
    assert caught.value.code == "too_slow"


def test_syntax_errors_and_huge_sources_are_reported():
    with pytest.raises(RenderError) as caught:
        compile_source(ENV, "line one\n{% if %}")
    assert caught.value.code == "syntax" and "2" in caught.value.text
    with pytest.raises(RenderLimit):
        compile_source(ENV, "x" * 300_000)


def test_ordinary_templates_still_work():
    out = run(
        "{% for x in items %}{{ loop.index }}:{{ x|upper }}{% if not loop.last %}, {% endif %}{% endfor %}"
        "{{ missing.attr or 'cher client' }}",
        items=["a", "b"],
    )
    assert out == "1:A, 2:Bcher client"


# -- zone values are data, never template source ---------------------------------------------------

ZONES, _ = zones.parse_zones(
    [
        {"key": "headline", "type": "short_text", "max_length": 200},
        {"key": "body", "type": "rich_text"},
    ]
)
STORE = {"name": "Magasin A", "full_address": "1 rue X, 59000 Lille", "hours_text": "", "city": "Lille"}
MJML = (
    "<mjml><mj-body><mj-section><mj-column>"
    "<mj-text>Bonjour {{ recipient.first_name|fallback('cher client') }}</mj-text>"
    "<mj-text>{{ zones.headline }}</mj-text><mj-text>{{ zones.body }}</mj-text>"
    '<mj-text><a href="{{ unsubscribe_url }}">stop</a></mj-text>'
    "</mj-column></mj-section></mj-body></mjml>"
)


def email(values: dict, source: str = MJML) -> rendering.Variant:
    return rendering.Variant(
        channel="email",
        source=source,
        subject="{{ zones.headline }}",
        text="{{ zones.headline }} / {{ recipient.first_name|fallback('cher client') }}",
        zones=ZONES,
        values=zones.resolve(ZONES, values),
        store=STORE,
        version_id=1,
    )


@pytest.mark.parametrize(
    "typed",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ recipient.email }}",
        "{% for i in range(10**9) %}x{% endfor %}",
        "{0.__class__} %(x)s",
        "{{ unsubscribe_url }}",
    ],
)
def test_template_syntax_typed_into_a_zone_renders_literally(typed):
    result = rendering.render_variant(
        email({"headline": typed}),
        {"first_name": "Ana", "email": "ana@example.test"},
        {"unsubscribe_url": "U"},
    )
    assert result.errors == []
    visible = rendering.html_to_text(result.html)
    assert typed in visible  # shown as typed: braces survive as text, nothing evaluated
    assert "ana@example.test" not in result.html
    assert result.subject == typed
    assert result.text == f"{typed} / Ana"
    assert "<class" not in result.html


def test_rich_text_script_and_javascript_links_come_out_clean():
    body = '<p>Hi<script>alert(1)</script> <a href="javascript:alert(1)">x</a><b onmouseover="y">b</b></p>'
    result = rendering.render_variant(email({"body": body}), {}, {"unsubscribe_url": "https://u.example/"})
    assert (
        "alert" not in result.html and "javascript:" not in result.html and "onmouseover" not in result.html
    )
    assert "<b>b</b>" in result.html


def test_recipient_fields_in_tags_are_refused_clearly():
    source = "<mjml><mj-body>{% if recipient.first_name %}x{% endif %}</mj-body></mjml>"
    result = rendering.render_variant(email({}, source), {}, {})
    assert [e.code for e in result.errors] == ["recipient_in_tag"]
    assert "recipient" in result.errors[0].text


def test_mjml_is_compiled_once_per_variant_not_per_recipient():
    rendering.clear_caches()
    before = rendering.stats["mjml_compiles"]
    variant = email({"headline": "Les soldes"})
    outputs = [
        rendering.render_variant(variant, {"first_name": name}, {"unsubscribe_url": f"https://u.example/{i}"})
        for i, name in enumerate(["Ana", "Bruno", "", "Chloé"] * 25)
    ]
    assert rendering.stats["mjml_compiles"] - before == 1
    assert "Bonjour Ana" in outputs[0].html and "Bonjour cher client" in outputs[2].html
    assert 'href="https://u.example/3"' in outputs[3].html
    # Another store's values are another variant: one more compile.
    rendering.render_variant(email({"headline": "Autre"}), {}, {})
    assert rendering.stats["mjml_compiles"] - before == 2


def test_mj_include_cannot_read_files():
    source = '<mjml><mj-body><mj-include path="/etc/passwd" /></mj-body></mjml>'
    result = rendering.render_variant(email({}, source), {}, {})
    assert [e.code for e in result.errors] == ["mjml"]
    assert "root:" not in result.html


def test_sms_renders_and_counts():
    variant = rendering.Variant(
        channel="sms",
        source=(
            "{{ store.name }} : {{ zones.headline }} {{ recipient.first_name|fallback('') }} STOP au 36180"
        ),
        zones=ZONES,
        values=zones.resolve(ZONES, {"headline": "{{ 7*7 }} €"}),
        store=STORE,
        organisation={"sms_price_per_segment": "0.05"},
    )
    result = rendering.render_variant(variant, {"first_name": "Ana"}, {})
    assert result.text == "Magasin A : {{ 7*7 }} € Ana STOP au 36180"
    assert result.sms is not None and result.sms.encoding == "GSM-7" and result.sms.segments == 1
    assert str(result.sms.cost) == "0.0500"


def test_unknown_channel_reports_instead_of_crashing():
    variant = rendering.Variant(channel="fax", source="", zones=[], values={}, store=STORE)
    assert [e.code for e in rendering.render_variant(variant, {}).errors] == ["no_renderer"]


def test_image_zones_print_the_url_given_by_the_library_hook(monkeypatch):
    image_zones, _ = zones.parse_zones([{"key": "hero", "type": "image"}])
    monkeypatch.setattr(rendering, "image_url", lambda asset_id, zone: f"https://cdn.example/{asset_id}.png")
    variant = rendering.Variant(
        channel="sms", source="{{ zones.hero }}", zones=image_zones, values={"hero": "42"}, store=STORE
    )
    assert rendering.render_variant(variant, {}).text == "https://cdn.example/42.png"


# -- memory: values kept alive by the template are bounded in all, not only one by one ---------------

HOARDERS = {
    "list_of_big_strings": (
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
        "{% set ns.l = ns.l + [('x' * 199990) ~ i] %}{% endfor %}"
    ),
    "mapped_filter": (
        "{% set ns = namespace(l=[]) %}{% set ns.l = range(100000)|map('center', 100000)|list %}"
    ),
    "slices": (
        "{% set s = 'x' * 200000 %}{% set ns = namespace(l=[]) %}"
        "{% for i in range(100000) %}{% set ns.l = ns.l + [s[i:]] %}{% endfor %}"
    ),
    "method_results": (
        "{% set s = 'x' * 200000 %}{% set ns = namespace(l=[]) %}"
        "{% for i in range(100000) %}{% set ns.l = ns.l + [s.upper()] %}{% endfor %}"
    ),
    "nested_lists": (
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
        "{% set ns.l = ns.l + [range(100000)|batch(1)|list] %}{% endfor %}"
    ),
    "joined": (
        "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
        "{% set ns.l = ns.l + [('y' * 1000).join(['a', 'b'] * 100) ~ i] %}{% endfor %}"
    ),
    "namespaces": (
        "{% set d = dict(range(100000)|batch(2)|list) %}"
        "{% set ns = namespace(l=[]) %}{% for i in range(1000) %}"
        "{% set ns.l = ns.l + [namespace(d)] %}{% endfor %}"
    ),
}


@pytest.mark.parametrize("source", HOARDERS.values(), ids=HOARDERS.keys())
def test_templates_hoarding_memory_are_refused_with_bounded_peak(source):
    import tracemalloc

    template = compile_source(ENV, source)
    tracemalloc.start()
    try:
        with pytest.raises(RenderError) as caught:
            render(template, {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.code in {"too_big", "too_much_memory"}, caught.value.code
    assert caught.value.text
    assert peak < 64 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def test_building_ordinary_content_stays_within_the_memory_budget():
    source = (
        "{% set ns = namespace(items=[], text='') %}"
        "{% for p in products %}{% set ns.items = ns.items + [p.name|upper ~ ' ' ~ p.price] %}{% endfor %}"
        "{% for i in range(300) %}{% set ns.text = ns.text ~ 'ligne %d, ' % i %}{% endfor %}"
        "{{ ns.items|join(', ') }} {{ ns.text|length }}"
    )
    products = [{"name": f"produit {i}", "price": i} for i in range(2000)]
    out = run(source, products=products)
    assert out.startswith("PRODUIT 0 0, PRODUIT 1 1") and out.endswith(" 3190")

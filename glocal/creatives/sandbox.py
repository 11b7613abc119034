"""The Jinja2 sandbox every recipient-facing render goes through, with work, size and time limits.

Template source is written by HQ; zone values are written by stores and are only ever *data* in the
context (never compiled). Both are treated as untrusted here:

- :class:`SafeEnvironment` is an ``ImmutableSandboxedEnvironment`` (no ``__class__``, ``|attr`` escapes,
  ``str.format`` attribute walks, unsafe callables) with ``ChainableUndefined`` (a missing field
  renders empty).
- Work budget: every ``{% for %}`` iterable is wrapped (at parse time) in a counting guard, and every
  call, filter and intercepted operator ticks the same budget, which also checks a wall-clock deadline.
  A ``range(10**9)``, nested loops or a runaway macro stop with :class:`RenderLimit` instead of
  hanging the worker.
- Size: ``*``, ``**``, ``+`` and ``%`` are intercepted and refused *before* computing a too-large
  result; integer arguments to calls and filters (widths, counts) are capped; every intermediate
  string is capped; the output is streamed and stops at ``max_output``.
- Memory: a cap per value does not stop a template from *keeping* many capped values (a list grown
  in a loop, a list of lists, copies of a namespace). Every value the template builds (results of
  operators, ``~``, calls, methods, filters, slices) is weighed (``sys.getsizeof``, plus one level of
  items for lists, tuples and namespaces built by calls and filters) and charged to a budget of
  ``MAX_ALLOCATED`` bytes for the whole render. What is charged is allocated, never freed, so the
  budget bounds what the render can hold at once, whatever the template keeps.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from jinja2 import ChainableUndefined, TemplateError, nodes, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

MAX_SOURCE = 200_000  # characters of template source
MAX_VALUE = 200_000  # characters (or items) of any intermediate value
MAX_OUTPUT = 1_000_000  # characters of output
MAX_EMITTED = 4_000_000  # characters emitted in all, captured blocks and macros included
MAX_OPS = 1_000_000  # loop iterations + calls + filters + operators
MAX_INT_ARG = 100_000  # integer argument of a call or filter (widths, counts, range bounds)
MAX_INT_BITS = 4096
MAX_ALLOCATED = 32 * 1024 * 1024  # bytes of values built by the template during one render, in all
TIME_LIMIT = 2.0  # seconds
_CHECK_EVERY = 1024


class RenderError(Exception):
    """A template could not be rendered; ``message`` is translatable and safe to show."""

    def __init__(self, code: str, message: Any, **params: Any) -> None:
        self.code = code
        self.message = message
        self.params = params
        super().__init__(code)

    @property
    def text(self) -> str:
        message = str(self.message)
        return message % self.params if self.params else message

    def __str__(self) -> str:
        return self.text


class RenderLimit(RenderError):
    """A limit (work, time, size) stopped the render."""


@dataclass
class Budget:
    ops: int
    deadline: float
    emit_limit: int = 0
    alloc_limit: int = MAX_ALLOCATED
    count: int = 0
    emitted: int = 0
    allocated: int = 0

    def charge(self, size: int) -> None:
        """Bytes of a value the template built; refused once the render has built too much."""
        self.allocated += size
        if self.allocated > self.alloc_limit:
            raise RenderLimit(
                "too_much_memory",
                _("The template builds too much data (more than %(max)s MB in all)."),
                max=self.alloc_limit // (1024 * 1024),
            )

    def emit(self, size: int) -> None:
        """Every piece of output, including output captured by ``{% set %}…{% endset %}``, macros,
        ``caller()`` and filter blocks, which never reaches the streamed top-level output."""
        self.emitted += size
        if self.emitted > self.emit_limit:
            raise _too_big()
        self.tick()

    def tick(self, n: int = 1) -> None:
        self.count += n
        if self.count > self.ops:
            raise RenderLimit("too_much_work", _("The template does too much work (loops or calls)."))
        if self.count % _CHECK_EVERY < n and time.monotonic() > self.deadline:
            raise RenderLimit("too_slow", _("The template took too long to render."))

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimit("too_slow", _("The template took too long to render."))


_budget: ContextVar[Budget | None] = ContextVar("glocal_render_budget", default=None)


def _tick(n: int = 1) -> None:
    budget = _budget.get()
    if budget is None:  # compile-time constant folding: refuse, evaluate at render time instead
        return
    budget.tick(n)


def _too_big() -> RenderLimit:
    return RenderLimit("too_big", _("The template produces a value that is too large."))


_SIZED = (str, bytes, list, tuple, dict)


def _check_size(value: Any, *, items: bool = False) -> Any:
    """Cap one value and charge its weight to the render's memory budget. ``items``: also weigh the
    items of a list or tuple one level down (results of calls and filters, which may build them:
    ``|batch``, ``|groupby``, ``|list`` of a generator); an operator's result only weighs its container,
    whose items were weighed when they were built."""
    if isinstance(value, _SIZED):
        if len(value) > MAX_VALUE:
            raise _too_big()
        budget = _budget.get()
        if budget is not None:
            size = sys.getsizeof(value)
            if items and isinstance(value, list | tuple):
                size += sum(map(sys.getsizeof, value))
            budget.charge(size)
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise _too_big()
    elif isinstance(value, Namespace):
        attrs = object.__getattribute__(value, "_Namespace__attrs")
        if len(attrs) > MAX_VALUE:
            raise _too_big()
        budget = _budget.get()
        if budget is not None:
            budget.charge(sys.getsizeof(attrs))
    return value


def _check_args(args: Iterable[Any], kwargs: dict[str, Any]) -> None:
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_INT_ARG:
            raise RenderLimit(
                "number_too_large",
                _("A number given to a function or filter is too large (at most %(max)s)."),
                max=MAX_INT_ARG,
            )


MAX_PRODUCT = 4_000_000


def _check_product(values: Iterable[Any]) -> None:
    """Refuse a call whose two largest sized arguments could multiply into a huge result
    (``items|join(long_separator)``, ``text|replace("", long)``, ``text|indent(long)``). An iterator
    of unknown length counts as the largest allowed value."""
    sizes = []
    for value in values:
        if isinstance(value, str | bytes | list | tuple | dict | range):
            sizes.append(len(value))
        elif isinstance(value, Iterator):
            sizes.append(MAX_VALUE)
    if len(sizes) >= 2:
        sizes.sort(reverse=True)
        if sizes[0] * sizes[1] > MAX_PRODUCT:
            raise _too_big()


_WIDTH = re.compile(r"\d{5,}|\*")
_PERCENT_SPEC = re.compile(r"%(\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_format_string(fmt: str) -> None:
    """Refuse widths or precisions that would build huge strings ({0:>999999999} or %999999999s)."""
    for match in re.finditer(r"\{[^{}]*:([^{}]*)\}", fmt):
        if _WIDTH.search(match.group(1)):
            raise _too_big()
    for match in _PERCENT_SPEC.finditer(fmt):
        for group in match.groups()[1:]:
            if group and (group == "*" or len(group) > 4):
                raise _too_big()


class Literal(Markup):
    """Template text (HQ-authored) passed through the output counter: emitted as is."""


@pass_context
def _emit_literal(context: Any, text: str) -> str:
    budget = _budget.get()
    if budget is not None:
        budget.emit(len(text))
    return Literal(text)  # markup for autoescape; a marker for the stage-1 finalize elsewhere


@pass_context
def _emit(context: Any, value: Any) -> Any:
    budget = _budget.get()
    if budget is not None:
        budget.emit(len(value) if isinstance(value, str) else len(str(value)))
    return value


@pass_context
def _sized(context: Any, value: Any) -> Any:
    """Wraps every ``~`` concatenation and every slice: its result is capped and weighed like any
    other value."""
    _tick()
    return _check_size(value)


class _Guards(NodeTransformer):
    """Rewrites the parsed template so that loops, concatenations and every output go through the
    budget. The guard filters take the context, so Jinja never folds them at compile time."""

    @staticmethod
    def _filter(node: nodes.Node, name: str, lineno: int) -> nodes.Filter:
        return nodes.Filter(node, name, [], [], None, None, lineno=lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - NodeTransformer's naming
        self.generic_visit(node)
        node.iter = self._filter(node.iter, "_glocal_guard", node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return self._filter(node, "_glocal_sized", node.lineno)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:  # noqa: N802
        """A slice (``s[1:]``) is compiled to a plain Python slice, a new value: weigh it."""
        self.generic_visit(node)
        if isinstance(node.arg, nodes.Slice):
            return self._filter(node, "_glocal_sized", node.lineno)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        node.nodes = [
            self._filter(nodes.Const(child.data, lineno=child.lineno), "_glocal_literal", child.lineno)
            if isinstance(child, nodes.TemplateData)
            else self._filter(child, "_glocal_emit", child.lineno)
            for child in node.nodes
        ]
        return node


@pass_context
def _guard(context: Any, iterable: Any) -> Iterator[Any]:
    """Wraps every ``{% for %}`` iterable: each iteration spends one unit of the budget."""
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.tick()
        yield item


def _wrap_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)  # keeps jinja_pass_arg (pass_context & co.)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        _tick()
        skip = 2 if getattr(func, "jinja_pass_arg", None) is not None else 1
        _check_args(args[skip:], kwargs)
        _check_product((*args[skip - 1 :], *kwargs.values()))
        if func.__name__ == "do_format" and len(args) >= skip and isinstance(args[skip - 1], str):
            _check_format_string(args[skip - 1])
        return _check_size(func(*args, **kwargs), items=True)

    return wrapped


class SafeEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, **options: Any) -> None:
        options.setdefault("undefined", ChainableUndefined)
        super().__init__(**options)
        self.filters = {name: _wrap_filter(f) for name, f in self.filters.items()}
        self.filters["_glocal_guard"] = _guard
        self.filters["_glocal_literal"] = _emit_literal
        self.filters["_glocal_emit"] = _emit
        self.filters["_glocal_sized"] = _sized
        self.globals = {
            name: self.globals[name] for name in ("range", "dict", "namespace", "cycler", "joiner")
        }

    def add_filter(self, name: str, func: Callable[..., Any]) -> None:
        self.filters[name] = _wrap_filter(func)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _Guards().visit(tree)
        return tree

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format_string(value.__self__)
        return wrapped

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "**":
            if not isinstance(left, int | float) or not isinstance(right, int | float):
                raise SecurityError("unsupported power")
            if abs(right) > 64 or (
                isinstance(left, int) and abs(left).bit_length() * max(abs(right), 1) > MAX_INT_BITS
            ):
                raise _too_big()
        elif operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * max(count, 0) > MAX_VALUE
                ):
                    raise _too_big()
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS
            ):
                raise _too_big()
        elif operator == "+":
            if (
                isinstance(left, str | list | tuple)
                and hasattr(right, "__len__")
                and len(left) + len(right) > MAX_VALUE
            ):
                raise _too_big()
        elif operator == "%" and isinstance(left, str):
            _check_format_string(left)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _tick()
        _check_args(args, kwargs)
        owner = getattr(__obj, "__self__", None)
        _check_product(
            (owner, *args, *kwargs.values()) if isinstance(owner, str) else (*args, *kwargs.values())
        )
        return _check_size(super().call(__context, __obj, *args, **kwargs), items=True)


def render(
    template: Any,
    context: dict[str, Any],
    *,
    max_output: int = MAX_OUTPUT,
    time_limit: float = TIME_LIMIT,
    max_ops: int = MAX_OPS,
) -> str:
    """Render a compiled template from :func:`compile_source` within the limits.

    Raises :class:`RenderError` (with a translatable message) for any failure in the template:
    limits, sandbox violations, runtime errors. Never returns partial output.
    """
    budget = Budget(ops=max_ops, deadline=time.monotonic() + time_limit, emit_limit=MAX_EMITTED + max_output)
    token = _budget.set(budget)
    parts: list[str] = []
    size = 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > max_output:
                raise RenderLimit(
                    "output_too_large",
                    _("The rendered content is larger than the limit (%(max)s characters)."),
                    max=max_output,
                )
            parts.append(chunk)
            budget.check_time()
    except RenderError:
        raise
    except SecurityError as exc:
        raise RenderError(
            "unsafe",
            _("The template tried an operation that is not allowed: %(detail)s"),
            detail=str(exc)[:200],
        ) from None
    except RecursionError:
        raise RenderLimit("too_deep", _("The template recurses too deeply.")) from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        raise RenderError(
            "render_failed", _("The template could not be rendered: %(detail)s"), detail=str(exc)[:200]
        ) from None
    except MemoryError:
        raise _too_big() from None
    finally:
        _budget.reset(token)
    return "".join(parts)


def compile_source(env: SafeEnvironment, source: str) -> Any:
    """Compile HQ's source; a syntax error becomes a :class:`RenderError` naming the line."""
    if len(source) > MAX_SOURCE:
        raise RenderLimit(
            "source_too_large",
            _("The template source is too large (at most %(max)s characters)."),
            max=MAX_SOURCE,
        )
    try:
        return env.from_string(source)
    except TemplateError as exc:
        lineno = getattr(exc, "lineno", None)
        raise RenderError(
            "syntax",
            _("Template error on line %(line)s: %(detail)s"),
            line=lineno or "?",
            detail=getattr(exc, "message", None) or str(exc),
        ) from None
    except RecursionError:
        raise RenderLimit("too_deep", _("The template is nested too deeply.")) from None
    except RenderError:
        raise

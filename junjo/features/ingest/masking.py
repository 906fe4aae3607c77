"""Masking: the redaction rules of ``[[masking.rules]]``, applied to an export at ingestion,
before it is written to the write-ahead log.

Where, and why there: a self-hoster who masks wants the secret on no disk of theirs. The
WAL (``wal.db``) is a file, and keeps each export until it is indexed, and for ever when the
indexer sets it aside (the quarantine); masking while converting rows would leave the raw
values there. So the doors' decode (``otlp.decode_traces``) masks the parsed request in
place and re-serializes it only when something was masked. The price, in the request path
and only with rules configured (none: nothing here runs), is a walk over every string value
and, for an export that had something masked, one re-serialization (docs/masking.md has the
measurements). What was stored before a rule existed is not rewritten.

What a rule masks, for each span (its attributes, its events' and links' attributes, and
its resource's and scope's attributes; also in arrays and maps inside them):

* ``attribute_keys``: globs (``fnmatch``, case-insensitive) on attribute keys; a nested map's
  keys are matched as ``outer.inner``. The whole value becomes the replacement text.
* ``value_patterns``: named patterns (``NAMED_PATTERNS``: email, api_key, jwt) or regular
  expressions; each match inside a string value is replaced. Also in status messages
  (``status_messages``) and span and event names (``span_names``), both on by default: an
  exception's message or a name like ``signup jane@example.com`` carries user input as
  often as attributes do (only the matching part is replaced, so names still group).

``replacement`` is the text put in place, ``{kind}`` naming what matched: ``key``, a named
pattern, ``pattern`` (a regex of yours) or ``timeout``.

Regular expressions: Python's ``re`` has no time limit and re2 is not available, so the
named patterns are written to stay linear (bounded repeats, no nested ones), and yours run
on the ``regex`` package with a time limit per value (``regex_timeout_ms``, 100): a value a
pattern cannot finish with in time is masked whole (``[masked:timeout]``, counted and
logged without the value). A catastrophic pattern thus costs at most that much per value.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from junjo.config import MaskingRule, MaskingSettings

log = logging.getLogger("junjo.ingest.masking")

# Each named pattern is a list of (regex, needles, folded): every match of the regex holds
# one of its needles (in lower case when ``folded``: the regex ignores case there). A request
# whose bytes hold none of a pattern's needles is not searched for it at all, nor is a span
# or a value that holds none: that keeps the usual export (nothing to mask) at a few
# microseconds a span. The regexes are written to stay linear on any input: every repeat
# bounded, none nested in another.
NAMED_PATTERNS: dict[str, tuple[tuple[str, tuple[str, ...], bool], ...]] = {
    "email": (
        (
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@"
            r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z])",
            ("@",),
            False,
        ),
    ),
    "api_key": (
        (r"\bsk-[A-Za-z0-9_-]{20,256}", ("sk-",), False),  # OpenAI, Anthropic (sk-ant-...)
        (r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", ("AKIA", "ASIA"), False),  # AWS access key ids
        (
            r"(?i:aws_secret_access_key)[\"']?\s{0,8}[:=]\s{0,8}[\"']?[A-Za-z0-9/+]{40}",
            ("aws_secret_access_key",),
            True,
        ),
        (r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), False),
        (r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b", ("github_pat_",), False),  # GitHub
        (r"\bglpat-[A-Za-z0-9_-]{20,64}", ("glpat-",), False),  # GitLab
        (r"\bxox[abposr]-[A-Za-z0-9-]{10,250}", ("xox",), False),  # Slack
        (r"\bAIza[0-9A-Za-z_-]{35}", ("AIza",), False),  # Google
        (r"\b[rsp]k_(?:live|test)_[0-9A-Za-z]{16,247}\b", ("k_live_", "k_test_"), False),
        (r"\bhf_[A-Za-z]{34}\b", ("hf_",), False),  # Hugging Face
        (r"(?i:\bbearer)\s{1,8}[A-Za-z0-9._~+/-]{16,4096}=*", ("bearer",), True),
    ),
    "jwt": (
        (
            r"\beyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,8192}",
            ("eyJ",),
            False,
        ),
    ),
}
# Where one byte is too common a needle in protobuf's binary fields (ids, times): what the
# bytes must hold instead, as a regex with a literal first byte (which re finds fast).
_GATES = {b"@": re.compile(rb"@[A-Za-z0-9-]{1,63}\.[A-Za-z]")}
# A pattern written as a bare lower-case word is a name; one not in NAMED_PATTERNS is a typo.
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_WARN_EVERY_S = 10.0


class _Haystack:
    """A message's protobuf bytes, and (once asked for) the same lowered."""

    __slots__ = ("_lowered", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._lowered: bytes | None = None

    def holds(self, needles: tuple[bytes, ...], folded: bool) -> bool:
        if folded and self._lowered is None:
            self._lowered = self.raw.lower()
        haystack = self._lowered if folded else self.raw
        assert haystack is not None
        for needle in needles:
            gate = _GATES.get(needle)
            if gate.search(haystack) if gate else needle in haystack:
                return True
        return False


@dataclass(frozen=True)
class _Pattern:
    """A regex; the needles one of which each of its matches holds (None: not known, a
    regex of yours), in lower case when ``folded``; the text that replaces a match."""

    regex: Any  # re.Pattern, or a regex.Pattern (run with a time limit)
    needles: tuple[str, ...] | None
    text: str
    folded: bool = False
    timed: bool = False

    @functools.cached_property
    def byte_needles(self) -> tuple[bytes, ...]:
        return tuple(needle.encode() for needle in self.needles or ())

    def present(self, haystack: _Haystack) -> bool:
        """Whether a match may be in these bytes."""
        return self.needles is None or haystack.holds(self.byte_needles, self.folded)

    def may_match(self, text: str) -> bool:
        if self.needles is None:
            return True
        if self.folded:
            text = text.lower()
        return any(needle in text for needle in self.needles)


class MaskingConfigError(ValueError):
    """A rule junjo cannot use; the message names it (``masking.rules[N]...``)."""


@dataclass
class MaskCounts:
    """What masking one request did."""

    spans: int = 0  # spans with at least one value masked (theirs, or their resource's)
    values: int = 0  # values masked (a string with three emails in it is one)
    timed_out: int = 0  # values masked whole because a pattern ran out of time


class _Rule:
    """One compiled rule: a key matcher and the patterns, in order."""

    def __init__(self, index: int, rule: MaskingRule, timeout_s: float) -> None:
        self.where = where = f"masking.rules[{index}]"
        self.key_match = _key_matcher(rule.attribute_keys)
        # The literal part of each glob, for the request-level gate; None: some glob has
        # none (e.g. "*"), so every request is walked.
        self.key_needles = _glob_needles(rule.attribute_keys)
        self.key_text = _text(rule.replacement, "key")
        self.timeout_text = _text(rule.replacement, "timeout")
        self.span_names = rule.span_names
        self.status_messages = rule.status_messages
        self.names: list[str] = []
        self.patterns: list[_Pattern] = []
        for i, pattern in enumerate(rule.value_patterns):
            if _NAME.fullmatch(pattern):
                self.patterns += _named(pattern, rule.replacement, where)
                self.names.append(pattern)
            else:
                compiled = _custom_pattern(pattern, f"{where}.value_patterns[{i}]")
                needles = _literal_prefix(pattern)
                text = _text(rule.replacement, "pattern")
                self.patterns.append(_Pattern(compiled, needles, text, timed=True))
        self.timeout_s = timeout_s

    def active(self, haystack: _Haystack) -> _Active | None:
        """What of this rule can match in a message with these protobuf bytes; None:
        nothing."""
        keys = self.key_match is not None and (
            self.key_needles is None or haystack.holds(self.key_needles, folded=True)
        )
        patterns = [p for p in self.patterns if p.present(haystack)]
        if not keys and not patterns:
            return None
        return _Active(self, self.key_match if keys else None, patterns)


@dataclass(frozen=True)
class _Active:
    """A rule as it applies to one request: its key matcher, if a key may match, and the
    patterns whose needles the request holds."""

    rule: _Rule
    key_match: Callable[[str], bool] | None
    patterns: list[_Pattern]


def _text(template: str, kind: str) -> str:
    return template.replace("{kind}", kind)


def _named(name: str, template: str, where: str) -> list[_Pattern]:
    if name not in NAMED_PATTERNS:
        raise MaskingConfigError(
            f"{where}.value_patterns: no named pattern {name!r} (named: "
            f"{', '.join(NAMED_PATTERNS)}; a regex that is one lower-case word: write it as"
            f" (?:{name}))"
        )
    text = _text(template, name)
    return [
        _Pattern(_compiled(regex), needles, text, folded)
        for regex, needles, folded in NAMED_PATTERNS[name]
    ]


@functools.cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _key_matcher(globs: Iterable[str]) -> Callable[[str], bool] | None:
    patterns = [fnmatch.translate(glob) for glob in globs]
    if not patterns:
        return None
    compiled = re.compile("|".join(patterns), re.IGNORECASE)
    cache: dict[str, bool] = {}

    def matches(key: str) -> bool:
        # Keys repeat across spans: the same few hundred keys, looked up once each.
        found = cache.get(key)
        if found is None:
            if len(cache) > 10_000:
                cache.clear()
            found = cache[key] = compiled.match(key) is not None
        return found

    return matches


def _glob_needles(globs: Iterable[str]) -> tuple[bytes, ...] | None:
    """The longest literal run of each glob, lowered; None when one has none worth it (a
    key of a nested map is matched as outer.inner: a needle never spans the dot)."""
    needles = []
    for glob in globs:
        runs = [run for part in re.split(r"[*?]|\[[^\]]*\]", glob) for run in part.split(".")]
        longest = max(runs, key=len, default="")
        if len(longest) < 2 or not longest.isascii():  # bytes.lower() folds ASCII only
            return None
        needles.append(longest.lower().encode())
    return tuple(needles)


def _custom_pattern(pattern: str, where: str) -> Any:
    import regex

    if not pattern:
        raise MaskingConfigError(f"{where}: an empty pattern would match everywhere")
    try:
        compiled = regex.compile(pattern)
    except (regex.error, ValueError, TypeError) as exc:
        raise MaskingConfigError(f"{where}: not a valid regular expression: {exc}") from None
    if compiled.fullmatch(""):  # would fill every value with marks
        raise MaskingConfigError(f"{where}: the pattern matches the empty string")
    return compiled


def _literal_prefix(pattern: str) -> tuple[str, ...] | None:
    """The text every match of a regex of yours starts with, as its needle (``ACME-\\d{8}``:
    ``ACME-``); None when it starts otherwise, or ignores case: then every value is searched."""
    try:
        parsed = importlib.import_module("re._parser").parse(pattern)
    except Exception:  # re cannot read what the regex package can: no needle, no harm
        return None
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    literal = importlib.import_module("re._constants").LITERAL
    prefix = []
    for op, argument in parsed:
        if op is not literal:
            break
        prefix.append(chr(argument))
    return ("".join(prefix),) if len(prefix) >= 2 else None


class Masker:
    """The configured rules; ``mask(request, raw)`` masks an ExportTraceServiceRequest in
    place. Thread-safe: the doors call it from many threads (the key caches tolerate races:
    a lost entry is only computed again)."""

    def __init__(self, settings: MaskingSettings) -> None:
        timeout_s = settings.regex_timeout_ms / 1000
        self.rules = [_Rule(i, rule, timeout_s) for i, rule in enumerate(settings.rules)]
        self._warned_at = float("-inf")
        self._warn_lock = threading.Lock()

    def describe(self) -> str:
        """For the start log: what is masked, without any regex's text (a regex may spell
        out the very secret it masks)."""
        parts = []
        for rule in self.rules:
            custom = sum(p.timed for p in rule.patterns)
            what = [
                "attribute keys" if rule.key_match else "",
                ", ".join(rule.names),
                f"{custom} regex(es)" if custom else "",
            ]
            parts.append(" + ".join(p for p in what if p))
        return f"{len(self.rules)} rule(s): " + "; ".join(parts)

    def mask(self, request: Any, raw: bytes | None = None) -> MaskCounts:
        """Mask ``request`` in place. ``raw``: its protobuf bytes, if at hand.

        Each rule is first asked whether it can match at all, on the bytes: of the
        request (when ``raw`` is given; a request with nothing to mask, the usual case,
        ends there), then of each resource, scope and span, so only the spans that hold a
        needle are walked value by value."""
        counts = MaskCounts()
        rules = self.rules
        if raw is not None:
            haystack = _Haystack(raw)
            rules = [rule for rule in rules if rule.active(haystack)]
            if not rules:
                return counts
        walk = _Walk(self, counts)
        for resource_spans in request.resource_spans:
            shared = walk.attributes_of(rules, resource_spans.resource, "resource")
            for scope_spans in resource_spans.scope_spans:
                scope = walk.attributes_of(rules, scope_spans.scope, "scope")
                for span in scope_spans.spans:
                    if walk.span(rules, span) or shared or scope:
                        counts.spans += 1
        return counts

    def warn_timeout(self, rule: _Rule, where: str, size: int) -> None:
        """At most one line per 10 s, never with the value."""
        now = time.monotonic()
        with self._warn_lock:
            if now - self._warned_at < _WARN_EVERY_S:
                return
            self._warned_at = now
        log.warning(
            "%s: a pattern did not finish within %g ms on a %d-character value of %s; the"
            " whole value was masked (simplify the pattern, or raise"
            " masking.regex_timeout_ms)",
            rule.where,
            rule.timeout_s * 1000,
            size,
            where,
        )


class _Applying:
    """The rules that may match in one message, sorted by what they do."""

    def __init__(self, rules: list[_Active]) -> None:
        self.keyed = [a for a in rules if a.key_match is not None]
        self.valued = [a for a in rules if a.patterns]
        self.named = [a for a in self.valued if a.rule.span_names]
        self.status = [a for a in self.valued if a.rule.status_messages]


def _applying(rules: list[_Rule], message: Any) -> _Applying | None:
    haystack = _Haystack(message.SerializeToString())
    found = [active for rule in rules if (active := rule.active(haystack))]
    return _Applying(found) if found else None


class _Walk:
    """One request's walk: every attribute, and the names and messages rules ask for."""

    def __init__(self, masker: Masker, counts: MaskCounts) -> None:
        self.masker = masker
        self.counts = counts

    def attributes_of(self, rules: list[_Rule], message: Any, where: str) -> int:
        """A resource's or a scope's attributes."""
        if not message.attributes:
            return 0
        applying = _applying(rules, message)
        return self.key_values(applying, message.attributes, where) if applying else 0

    def span(self, rules: list[_Rule], span: Any) -> int:
        rule_set = _applying(rules, span)
        if rule_set is None:
            return 0
        masked = self.key_values(rule_set, span.attributes, "attributes")
        for event in span.events:
            masked += self.key_values(rule_set, event.attributes, "events")
            for active in rule_set.named:
                masked += self.field(active, event, "name")
        for link in span.links:
            masked += self.key_values(rule_set, link.attributes, "links")
        for active in rule_set.named:
            masked += self.field(active, span, "name")
        if span.status.message:
            for active in rule_set.status:
                masked += self.field(active, span.status, "message")
        return masked

    def field(self, active: _Active, message: Any, name: str) -> int:
        masked = self.string(active, getattr(message, name), name)
        if masked is None:
            return 0
        setattr(message, name, masked)
        self.counts.values += 1
        return 1

    def key_values(self, rule_set: _Applying, key_values: Any, where: str, prefix: str = "") -> int:
        """Mask a repeated KeyValue in place; how many values were masked."""
        masked = 0
        for kv in key_values:
            key = prefix + kv.key if prefix else kv.key
            value = kv.value
            for active in rule_set.keyed:
                if active.key_match(key):  # type: ignore[misc]  # keyed: never None
                    text = active.rule.key_text
                    if value.WhichOneof("value") != "string_value" or value.string_value != text:
                        value.string_value = text  # clears any other kind of value
                        self.counts.values += 1
                        masked += 1
                    break
            else:
                masked += self.any_value(rule_set, value, where, key)
        return masked

    def any_value(self, rule_set: _Applying, value: Any, where: str, key: str) -> int:
        text = value.string_value
        if text:
            if not rule_set.valued:
                return 0
            result = None
            for active in rule_set.valued:
                masked = self.string(active, text if result is None else result, f"{where} {key!r}")
                if masked is not None:
                    result = masked
            if result is None:
                return 0
            value.string_value = result
            self.counts.values += 1
            return 1
        kind = value.WhichOneof("value")
        if kind == "array_value":
            values = value.array_value.values
            return sum(self.any_value(rule_set, v, where, key) for v in values)
        if kind == "kvlist_value":
            return self.key_values(rule_set, value.kvlist_value.values, where, f"{key}.")
        return 0

    def string(self, active: _Active, text: str, where: str) -> str | None:
        """``text`` with the rule's patterns masked, or None when none matched."""
        changed = False
        for pattern in active.patterns:
            if not pattern.may_match(text):
                continue
            try:
                if pattern.timed:
                    text, found = pattern.regex.subn(
                        pattern.text, text, timeout=active.rule.timeout_s
                    )
                else:
                    text, found = pattern.regex.subn(pattern.text, text)
            except TimeoutError:
                self.counts.timed_out += 1
                self.masker.warn_timeout(active.rule, where, len(text))
                return active.rule.timeout_text
            changed = changed or found > 0
        return text if changed else None


def masker_for(settings: MaskingSettings) -> Masker | None:
    """The masker for these settings; None when there are no rules (nothing to do)."""
    return Masker(settings) if settings.rules else None

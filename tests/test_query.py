"""The search query language (crossnav.index.querylang): parsing, errors with columns, hostile input."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossnav.index.querylang import (And, Filter, Not, Or, Pattern, QueryError, glob_to_regex, literal_runs, parse,
                                  path_matcher)


def err(q: str, **kw) -> QueryError:
    with pytest.raises(QueryError) as e:
        parse(q, **kw)
    return e.value


# ---------------------------------------------------------------------------- structure


def test_terms_are_anded():
    q = parse("retry backoff")
    assert q.expr == And((Pattern("retry", column=1), Pattern("backoff", column=7)))
    assert not q.symbols and q.case == "smart" and q.count is None


def test_quoted_phrase_keeps_spaces_and_escapes():
    q = parse(r'"def retry(" "say \"hi\" \\ ok"')
    assert [p.value for p in q.patterns] == ["def retry(", 'say "hi" \\ ok']
    assert all(p.quoted and not p.regex for p in q.patterns)


def test_regex_between_slashes():
    q = parse(r"/retr(y|ies)\b/ foo")
    assert q.patterns[0] == Pattern(r"retr(y|ies)\b", regex=True, column=1)
    assert parse("/a b/").patterns[0].value == "a b"
    # a path is a literal, not a regex
    assert parse("/usr/bin").patterns[0] == Pattern("/usr/bin", column=1)


def test_regex_mode_makes_bare_terms_regexes_but_not_phrases():
    q = parse(r'ret.y "a.b"', regex_mode=True)
    assert [(p.value, p.regex) for p in q.patterns] == [("ret.y", True), ("a.b", False)]
    assert parse("patterntype:regexp a.c").patterns[0].regex


def test_boolean_operators_and_precedence():
    q = parse("a OR b c")          # AND binds tighter than OR
    assert q.expr == Or((Pattern("a", column=1), And((Pattern("b", column=6), Pattern("c", column=8)))))
    q = parse("(a OR b) AND NOT c")
    assert q.expr == And((Or((Pattern("a", column=2), Pattern("b", column=7))), Not(Pattern("c", column=18))))


def test_parentheses_inside_terms_are_text():
    assert parse("foo(x)").patterns[0].value == "foo(x)"
    assert parse("print(x) OR (len(y))").expr == Or((Pattern("print(x)", column=1), Pattern("len(y)", column=14)))
    assert parse("x)").patterns[0].value == "x)"


def test_filters():
    q = parse('repo:^pay -repo:legacy file:*.py -path:tests/ lang:py owner:@acme/payments-team kind:func "x y"')
    filters = [n for n in _walk(q.expr) if isinstance(n, Filter)]
    assert [(f.name, f.value, f.negated) for f in filters] == [
        ("repo", "^pay", False), ("repo", "legacy", True), ("file", "*.py", False), ("file", "tests/", True),
        ("lang", "py", False), ("owner", "@acme/payments-team", False), ("kind", "func", False)]
    assert q.symbols   # kind: implies symbol search


def test_global_settings_are_pulled_out():
    q = parse("type:symbol count:7 case:yes Retry")
    assert q.symbols and q.count == 7 and q.case == "yes"
    assert q.expr == Pattern("Retry", column=30)
    assert parse("foo count:all").count == 0
    assert parse("(count:3) foo").expr == Pattern("foo", column=11)


def test_repeated_filters_mean_either():
    q = parse("repo:a repo:b -repo:c foo")
    assert q.expr == And((Or((Filter("repo", "a", False, 1), Filter("repo", "b", False, 8))),
                          Filter("repo", "c", True, 15), Pattern("foo", column=23)))


def test_filters_only_query_is_allowed():
    assert parse("repo:payments").expr == Filter("repo", "payments", False, 1)
    assert not parse("repo:payments").has_pattern


def test_colon_text_that_is_not_a_filter():
    assert parse("http://example.com").patterns[0].value == "http://example.com"
    assert parse("std::vector").patterns[0].value == "std::vector"
    assert parse('"foo:bar"').patterns[0].value == "foo:bar"


# ---------------------------------------------------------------------------- errors (with columns)


@pytest.mark.parametrize("query,column,words", [
    ("", 1, "empty query"),
    ("   ", 1, "empty query"),
    ("(foo", 1, "never closed"),
    ("foo (bar OR (baz)", 5, "never closed"),
    ("foo ) bar", 5, "no matching '('"),
    ("()", 1, "empty parentheses"),
    ('say "hello', 5, "unterminated"),
    ("/(unclosed/", 11, "invalid regular expression"),
    ("ok /a[/", 7, "invalid regular expression"),        # the column the regex engine names
    ("/x{2,1}/", 4, "invalid regular expression"),
    ("foo bogus:thing", 5, "unknown filter bogus:"),
    ("lang:klingon x", 1, "unknown language"),
    ("kind:widget x", 1, "unknown kind"),
    ("type:banana x", 1, "type:banana"),
    ("count:lots x", 1, "count:"),
    ("count:0 x", 1, "count:"),
    ("case:maybe x", 1, "case:"),
    ("repo: x", 1, "needs a value"),
    ("foo repo:(unclosed", 19, "invalid regular expression"),
    ("OR foo", 1, "needs something on its left"),
    ("foo OR", 5, "needs something on its right"),
    ("foo AND", 5, "needs something on its right"),
    ("foo NOT", 5, "needs something on its right"),
    ("foo AND OR bar", 5, "needs something on its right"),
    ("-type:symbol x", 1, "cannot be negated"),
    ("count:5 case:yes", 1, "nothing to search for"),
    ('""', 1, "empty phrase"),
])
def test_errors_point_at_the_column(query, column, words):
    e = err(query)
    assert words in e.message, e.message
    assert e.column == column, (e.message, e.column)
    shown = e.show(query).splitlines()
    assert shown[1].index("^") == column - 1


def test_deep_nesting_is_an_error_not_a_crash():
    assert "nests deeper" in err("(" * 500 + "x" + ")" * 500).message
    assert "nests deeper" in err("NOT " * 500 + "x").message
    assert "longer than" in err("x" * 5000).message


def test_error_message_suggests_quoting_unknown_filters():
    assert '"foo:bar"' in err("foo:bar").message


# ---------------------------------------------------------------------------- trigram requirements


@pytest.mark.parametrize("regex,expected", [
    ("Backoff", ("and", ["Backoff"])),
    (r"retr(y|ies)\b", ("and", ["retr"])),
    (r"(foo|barbaz)qux", ("and", [("and", [("or", [("and", ["foo"]), ("and", ["barbaz"])])]), "qux"])),
    (r"a.*b", None),
    (r"(abc)?def", ("and", ["def"])),
    (r"(abcd)+", ("and", [("and", [("and", ["abcd"])])])),
    (r"x|yzw", None),
    (r"\p{L}+abc", None),          # not Python `re` syntax: no constraint, still a valid pattern
])
def test_literal_runs(regex, expected):
    assert literal_runs(Pattern(regex, regex=True)) == expected


def test_globs():
    m = path_matcher("*.py")
    assert m("a/b/c.py") and m("c.py") and not m("c.pyi")
    m = path_matcher("tests/**")
    assert m("tests/a/b.py") and m("pkg/tests/x.py") and not m("testsuite/x.py")
    m = path_matcher("src/**/test_*.py")
    assert m("src/test_a.py") and m("src/x/y/test_b.py") and not m("src/x/a_test.py")
    m = path_matcher(r"_test\.py$")      # a regex
    assert m("a/b_test.py") and not m("a/b_test.pyc")
    assert path_matcher("{foo,bar}.py")("x/bar.py")
    assert glob_to_regex("*.py") == r"(?:^|/)[^/]*\.py$"


# ---------------------------------------------------------------------------- hostile input


QUERY_CHARS = st.sampled_from(list('abcAB /\\"()-:*.?+[]{}|^$') + ["AND", "OR", "NOT", "repo:", "file:", "lang:",
                                                                        "type:", "kind:", "count:", "case:", "owner:",
                                                                        "-repo:", "\n", "\t", "é", "\x00"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(QUERY_CHARS, max_size=30).map("".join))
def test_parser_raises_only_query_errors_on_token_soup(q):
    try:
        parsed = parse(q)
    except QueryError as e:
        assert e.column >= 1 and e.message
        return
    assert parsed.expr is not None or parsed.symbols


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_parser_raises_only_query_errors_on_any_text(q):
    for regex_mode in (False, True):
        try:
            parse(q, regex_mode=regex_mode)
        except QueryError:
            pass


def test_catastrophic_regex_is_bounded():
    """A hostile pattern cannot hang a search: matching runs with a time budget (search.py turns a
    timeout into a SearchError); the parser itself returns at once."""
    import regex as rx

    from crossnav.index.querylang import REGEX_TIMEOUT, compile_pattern
    t0 = time.monotonic()
    p = compile_pattern(parse("/(a|aa)+$/").patterns[0])
    with pytest.raises(TimeoutError):
        p.search("a" * 200 + "!", timeout=0.2)
    assert time.monotonic() - t0 < REGEX_TIMEOUT + 2
    assert isinstance(p, rx.Pattern)


def _walk(node):
    from crossnav.index.querylang import walk
    return list(walk(node))

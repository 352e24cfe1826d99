"""Schemathesis hooks for scripts/schemathesis.sh.

OpenAPI 3.1 has no way to state a rule between two query parameters, so
GET /api/v1/reports and GET /api/v1/stats say theirs in the parameters'
descriptions, and the server answers 400 naming the parameter when one is
broken. Generated requests that break one of these rules are left out here,
so that `positive_data_acceptance` judges each parameter by its own schema.
Each rule is also covered by tests (src/api/params.rs, tests/it/api.rs):

- `until` must be later than `since`;
- `max_rating` must not be below `min_rating`;
- `csv_safe` applies to CSV exports only (`format=csv`);
- `limit` above 1000 is for CSV exports only (JSON pages are held in memory).
"""

from datetime import date, datetime, timezone

import schemathesis

JSON_PAGE_MAX = 1000


def _text(query, name):
    value = query.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    value = str(value).strip()
    return value or None


def _instant(text):
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        try:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
        except ValueError:
            return None
    return t if t.tzinfo else None


def _number(text):
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


@schemathesis.hook
def filter_case(ctx, case):
    # `filter_case`, not `filter_query`: the coverage phase runs only this one.
    query = case.query
    if not query:
        return True
    since, until = _instant(_text(query, "since")), _instant(_text(query, "until"))
    if since and until and until <= since:
        return False
    low, high = _number(_text(query, "min_rating")), _number(_text(query, "max_rating"))
    if low is not None and high is not None and high < low:
        return False
    csv = _text(query, "format") == "csv"
    if _text(query, "csv_safe") in ("true", "1") and not csv:
        return False
    limit = _number(_text(query, "limit"))
    if limit is not None and limit > JSON_PAGE_MAX and not csv:
        return False
    return True

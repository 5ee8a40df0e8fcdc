"""nxr-ledger: one JSON line per API call and per API error, appended to
<profile>/nxr-ledger.jsonl. Hermes' state.db records successful calls only; nxr reads
this file for the failed ones (429s count against OpenRouter's free-tier quota too) and
for the reset time OpenRouter puts in a 429's body. Installed by nxr; never raises."""

import json
import os
import re
import time

# <profile>/plugins/nxr-ledger/__init__.py -> <profile>/nxr-ledger.jsonl
_LEDGER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "nxr-ledger.jsonl",
)
# The error body reaches the hook only as text (the SDK's str() of the error), JSON or a
# Python dict repr: match the header name with either quoting.
_RESET = re.compile(r"""X-RateLimit-Reset['"]?\s*:\s*['"]?(\d+)""", re.IGNORECASE)
_LIMIT = re.compile(r"""X-RateLimit-Limit['"]?\s*:\s*['"]?(\d+)""", re.IGNORECASE)
_KIND = re.compile(r"free-models-per-(?:day-high-balance|day|min)")


def _append(entry):
    try:
        line = (json.dumps(entry, default=str, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(_LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # One write per line with O_APPEND: concurrent agents' lines never interleave.
            os.write(fd, line)
        finally:
            os.close(fd)
    except Exception:
        pass


def _usage(usage):
    if not isinstance(usage, dict):
        return {}
    out = {}
    for k in ("input_tokens", "output_tokens", "prompt_tokens", "completion_tokens", "cost"):
        v = usage.get(k)
        if isinstance(v, (int, float)):
            out[k] = v
    return out


def on_post_api_request(**kw):
    _append({
        "event": "call",
        "at": kw.get("ended_at") or time.time(),
        "model": kw.get("model") or "",
        "provider": kw.get("provider") or "",
        "session_id": kw.get("session_id") or "",
        "duration": kw.get("api_duration"),
        "usage": _usage(kw.get("usage")),
    })


def on_api_request_error(**kw):
    error = kw.get("error") or {}
    message = str(error.get("message") or "") if isinstance(error, dict) else str(error)
    reset = _RESET.search(message)
    limit = _LIMIT.search(message)
    kind = _KIND.search(message)
    _append({
        "event": "error",
        "at": kw.get("ended_at") or time.time(),
        "model": kw.get("model") or "",
        "provider": kw.get("provider") or "",
        "session_id": kw.get("session_id") or "",
        "status": kw.get("status_code"),
        "reason": kw.get("reason") or "",
        "retry_count": kw.get("retry_count"),
        "max_retries": kw.get("max_retries"),
        "reset_ms": int(reset.group(1)) if reset else None,
        "limit": int(limit.group(1)) if limit else None,
        "limit_kind": kind.group(0) if kind else "",
        "message": message[:500],
    })


def register(ctx):
    ctx.register_hook("post_api_request", on_post_api_request)
    ctx.register_hook("api_request_error", on_api_request_error)

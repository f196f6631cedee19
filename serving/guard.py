"""ASGI middleware in front of the churnml service: API key, body size, body validation.

Runs before BentoML sees a request, so that

* every endpoint except the probes and the docs page needs ``Authorization: Bearer <key>``
  (compared in constant time by :func:`churnml.api.check_api_key`); a wrong or missing key gets
  401 with :class:`churnml.api.Unauthorized`'s message, the same whatever was wrong;
* bodies above ``[serving] max_body_bytes`` get 413 before they are read in full, compressed ones
  (``Content-Encoding: gzip``) 415, and a UTF-8 byte order mark before the JSON is dropped;
* a POST body that is not JSON, or does not match the route's request model, gets 400 with a
  sentence naming each bad field (``transactions[0].amount: Input should be a valid number``);
* payloads never reach a log: validation errors are built without input values;
* a 404 or 405 from behind it (plain text, or FastAPI's ``{"detail": ...}``) becomes JSON
  ``{"error": ...}`` like every other error;
* a path with a control character gets 404 (the router took ``/score%0A`` for ``/score``);
* a header value that is not UTF-8 text gets 400 naming the header (:func:`_with_text_headers`);
* every answer, errors included, carries :data:`SECURITY_HEADERS` (:func:`_with_security_headers`).

:func:`bound_metrics_endpoints` keeps the paths nobody serves out of ``/metrics``' labels, and answers
an exception raised in front of the guard (:func:`_answering_errors`) with a JSON 500 carrying them too.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from churnml.api import ServiceSettings, Unauthorized, check_api_key, iter_problems
from churnml.errors import ChurnmlError

PUBLIC_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/", "/docs.json"})
"""Open without a key: liveness/readiness probes and the OpenAPI page (no data behind them)."""
PUBLIC_PREFIXES = ("/static_content/",)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
"""No path served holds one; a path that does gets 404 before anything else."""
UNDECODABLE_HEADER = "churnml.undecodable_header"
"""The scope's key naming the first header whose value was not UTF-8 text (:func:`_with_text_headers`)."""
_BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark, dropped from the start of a POST body."""
GET_PATHS = frozenset({"/model", "/metrics"})
"""The protected GET endpoints (the POST ones are the guard's ``routes``)."""
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", b"frame-ancestors 'none'"), (b"cache-control", b"no-store"))
"""Sent with every answer: no MIME sniffing, no framing by another site's page (the docs page's
"Try it out" sends the key), and no copy of the scores kept by a browser or proxy cache. The CSP
names only ``frame-ancestors``, so the docs page's own scripts run as before."""


INTERNAL_ERROR = "An unexpected error has occurred, please check the server log."
"""The body's ``error`` of a 500, as BentoML words its endpoints' own: nothing of the cause."""
logger = logging.getLogger("churnml.serving")


class RequestGuard:
    """Pure ASGI middleware; ``routes`` maps POST paths to their pydantic request models.

    Reads the key and limits from the environment (:meth:`ServiceSettings.from_env`) when the app
    is built, as the service does; without a key every protected route answers 503.
    """

    def __init__(self, app: Any, routes: Mapping[str, type[BaseModel]]) -> None:
        self.app = app
        self.routes = dict(routes)
        try:
            self.settings: ServiceSettings | None = ServiceSettings.from_env()
        except ChurnmlError as exc:
            self.settings, self.problem = None, exc.message

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        send = _with_security_headers(send, path)
        if _CONTROL_CHARACTERS.search(path):
            # The router matched /score%0A as /score (its pattern's `$` matches before a final
            # newline): a route the checks below did not know, so its body went unchecked.
            return await _respond(send, 404, "There is no such path: a path holds no control characters (%0A, %0D …).")
        undecodable = scope.get(UNDECODABLE_HEADER) or _undecodable_header(scope)
        if undecodable:
            return await _respond(send, 400, f"The {undecodable} header holds bytes that are not UTF-8 text: send header "
                                             "values as ASCII text.")
        if len(path) > 1 and path.endswith("/") and path.rstrip("/") in {*self.routes, *PUBLIC_PATHS, *GET_PATHS}:
            # POST /score/ got a 307 to http://<host>/score, plain http even behind a TLS proxy:
            # a known path with a trailing slash is served as that path.
            path = path.rstrip("/")
            scope = {**scope, "path": path, "raw_path": path.encode()}
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            rewrite = DOCS_REWRITES.get(path) if scope.get("method") == "GET" else None
            send = _json_errors(send, scope, self.routes)  # POST /livez, a missing static file: JSON too
            return await self.app(scope, receive, _rewritten(send, rewrite) if rewrite else send)
        if self.settings is None:
            return await _respond(send, 503, self.problem)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not check_api_key(self.settings.api_key, headers.get("authorization")):
            return await _respond(send, 401, Unauthorized().message, {"www-authenticate": "Bearer"})
        model = self.routes.get(path)
        if model is None or scope.get("method") != "POST":
            return await self.app(scope, receive, _json_errors(send, scope, self.routes))

        media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if media_type != "application/json":
            return await _respond(send, 415, f"Send the body as JSON with Content-Type: application/json (got {media_type!r}).")
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # A gzip body was read as JSON and refused as "not valid JSON (expected value at line 1 column 1)".
            return await _respond(send, 415, f"Send the body uncompressed: Content-Encoding {encoding!r} is not "
                                             "supported (leave the header out).")
        limit = self.settings.config.serving.max_body_bytes
        too_large_message = (f"The request body is larger than {limit:,} bytes. Send fewer customers (or less history) "
                             "per request; the limit is [serving] max_body_bytes.")
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _respond(send, 413, too_large_message)
        body, too_large = await _read_body(receive, limit)
        if too_large:
            return await _respond(send, 413, too_large_message)
        if body.startswith(_BOM):
            # A file saved as "UTF-8 with BOM" (Notepad, PowerShell's Out-File) and posted as it is:
            # JSON parsers may ignore the mark (RFC 8259, 8.1), and this one does.
            body = body[len(_BOM):]
            scope = {**scope, "headers": [(k, str(len(body)).encode() if k.lower() == b"content-length" else v)
                                          for k, v in scope.get("headers", [])]}
        problem = _validate(model, body)
        if problem is not None:
            return await _respond(send, 400, problem)
        return await self.app(scope, _replay(body, receive), send)


# -- /metrics' endpoint label -----------------------------------------------------------------

OTHER_ENDPOINT = "(other)"
"""The ``endpoint`` label in ``/metrics`` of every request for a path the service does not serve."""


def metrics_endpoint(path: str, routes: Mapping[str, Any]) -> str:
    """The ``endpoint`` label of a request for ``path``: the path the service serves it as (a trailing
    slash dropped), ``/static_content/`` for the docs page's files, else :data:`OTHER_ENDPOINT`.

    Example
    -------
    >>> [metrics_endpoint(p, {"/score": None}) for p in ("/score", "/score/", "/model", "/static_content/a.js", "/x1")]
    ['/score', '/score', '/model', '/static_content/', '(other)']
    """
    served = {*routes, *PUBLIC_PATHS, *GET_PATHS}
    if path in served:
        return path
    if len(path) > 1 and path.rstrip("/") in served:
        return path.rstrip("/")
    if path.startswith(PUBLIC_PREFIXES):
        return next(prefix for prefix in PUBLIC_PREFIXES if path.startswith(prefix))
    return OTHER_ENDPOINT


def bound_metrics_endpoints(routes: Mapping[str, Any]) -> None:
    """Make BentoML's request metrics label a request by :func:`metrics_endpoint`, not by its path.

    BentoML's metrics middleware runs before :class:`RequestGuard` (before the key is checked) and
    labelled each request with its raw path: every request for a new path, without a key, added
    series to ``/metrics`` that stay until the server stops (5,000 such requests grew the worker by
    106 MB and ``/metrics`` to 24 MB, 13 s to answer). BentoML builds its middleware from the
    class its ``instruments`` module holds when the app is made, after ``service.py`` is imported;
    this replaces it there with a subclass that sees the label as the path and hands the request
    on with its own path.

    Being the outermost of BentoML's middleware, the subclass also adds :data:`SECURITY_HEADERS`
    to the answers BentoML makes before :class:`RequestGuard` sees the request (the 504 of its
    ``traffic`` timeout), answers an exception raised there (:func:`_answering_errors`), and hands
    on header values that are not UTF-8 text escaped (:func:`_with_text_headers`), for the guard to refuse.
    """
    from bentoml._internal.server.http import instruments

    base = instruments.RunnerTrafficMetricsMiddleware
    if getattr(base, "churnml_bounded", False):
        return

    class BoundedEndpoints(base):  # type: ignore[misc, valid-type]
        churnml_bounded = True

        def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
            async def with_own_path(scope: dict, receive: Any, send: Any) -> None:
                if "churnml.path" in scope:
                    scope = {**scope, "path": scope["churnml.path"]}
                if scope.get("type") != "http":
                    return await app(scope, receive, send)
                await _answering_errors(app, scope, receive, send)

            super().__init__(with_own_path, *args, **kwargs)

        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            if scope.get("type") == "http":  # BentoML's own answers in front of the guard: its 504 timeout
                send = _with_security_headers(send, scope.get("path", ""))
                scope = _with_text_headers(scope)
            if scope.get("type") == "http" and scope.get("path") != "/metrics":
                label = metrics_endpoint(scope.get("path", ""), routes)
                if label != scope.get("path"):
                    scope = {**scope, "path": label, "churnml.path": scope.get("path", "")}
            await super().__call__(scope, receive, send)

    instruments.RunnerTrafficMetricsMiddleware = BoundedEndpoints


# -- the docs page and the OpenAPI document --------------------------------------------------

_GTM = re.compile(rb"<!-- Google Tag Manager -->.*?<!-- End Google Tag Manager -->|"
                  rb"<!-- Google Tag Manager \(noscript\) -->.*?<!-- End Google Tag Manager \(noscript\) -->", re.S)


def _without_tracking(body: bytes) -> bytes:
    """BentoML's docs page loads Google Tag Manager: anyone who opens a company's API docs would
    be reported to a third party. The page is served without it."""
    return _GTM.sub(b"", body)


ERROR_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["error"],
    "description": "Every error's body, whatever its status and whichever part of the server answers it.",
    "properties": {"error": {"type": "string", "description": (
        "What is wrong and what to send instead, in a sentence for people; a field it is about is named first "
        "(customer_ids[1]: ..., transactions[0].timestamp: ...)."),
        "example": "customer_ids[0]: Input should be a valid string (send ids as JSON strings, e.g. \"123\")."}},
}
"""The one error body, ``{"error": "..."}``: :func:`_respond`'s, the service's, BentoML's 504."""
ERROR_ANSWERS = {
    "400": "Invalid request: a field missing, of the wrong type or past a limit the schema states, a body that is not "
           "a JSON object, or a value the data rules refuse (a date in the future, an unknown segment).",
    "401": "Missing or wrong API key.",
    "413": "Body larger than [serving] max_body_bytes (a list over its limit is a 400).",
    "415": "Body not sent as application/json, or sent compressed (Content-Encoding).",
    "500": "A bug: the body says only to check the server log, which has the traceback.",
    "504": "Not answered within [serving] request_timeout_seconds (the work may still finish): retry later with back-off, "
           "or send fewer customers.",
}
"""The error answers of the protected routes: every one may answer 401, 500 and 504, a POST route 400, 413 and 415."""
READYZ_TEXT = ("200 with an empty text body once the models and the snapshot are loaded. It never answers 503: while "
               "`churnml serve` starts, connections are refused, then accepted but not answered until the models are "
               "loaded, so give a readiness probe a timeout (1-2 s) and count a timeout as not ready.")


def _openapi_for_callers(body: bytes) -> bytes:
    """The OpenAPI document as a caller needs it: the bearer key (so the docs page gets an
    Authorize button and "Try it out" works), the error answers each protected route can give, all
    with the one body :data:`ERROR_SCHEMA` (BentoML listed a 404 no route answers, and 400/500 bodies with
    a ``detail`` none has), what ``/readyz`` answers, and churnml's own title and description instead of
    BentoML's."""
    try:
        spec = json.loads(body)
    except ValueError:
        return body
    from churnml import __version__

    info = spec.setdefault("info", {})
    info.update({
        "title": "churnml",
        "version": str(__version__),
        "description": ("Churn probability, customer value, segment and reasons per customer. Every route below but "
                        "/livez, /readyz and /healthz needs `Authorization: Bearer <key>` (CHURNML_API_KEY): "
                        "use Authorize above. Every error is JSON `{\"error\": \"...\"}` (schema Error) naming the "
                        "field and what to send instead; a path not below is a 404, and a method a path does not list "
                        "a 405 whose `Allow` header names those it does, with the same body."),
    })
    spec.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer", "description": "The API key: CHURNML_API_KEY of the server."}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):  # BentoML's, replaced by Error
        schemas.pop(name, None)
    if '"#/components/schemas/TaskStatusResponse"' not in body.decode("utf-8", "replace"):
        # BentoML adds it for task endpoints (`@bentoml.task`), which this service has none of: a generator made a class of it.
        schemas.pop("TaskStatusResponse", None)
    schemas["Error"] = ERROR_SCHEMA
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    readyz = (spec.get("paths", {}).get("/readyz") or {}).get("get")
    if isinstance(readyz, dict):
        readyz["description"] = READYZ_TEXT
        readyz.setdefault("responses", {})["200"] = {
            "description": "Ready.", "content": {"text/plain": {"schema": {"type": "string"}}}}
    for path, operations in spec.get("paths", {}).items():
        if path in PUBLIC_PATHS:
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            operation["security"] = [{"bearer": []}]
            responses = operation.setdefault("responses", {})
            responses.pop("404", None)  # no route answers it: an unknown id is a not_found item of a 200
            for code, text in ERROR_ANSWERS.items():
                if method == "post" or code not in ("400", "413", "415"):
                    responses[code] = {**error, "description": text}
            body = operation.get("requestBody")
            if method == "post" and isinstance(body, dict):
                _body_as_accepted(body)
    _exclusive_bounds_as_openapi_30(spec)
    _nullable_as_openapi_30(spec)
    return json.dumps(spec).encode("utf-8")


_DATA_KEYWORDS = ("example", "default", "enum")
"""Schema keywords whose values are data, never schemas: :func:`_nullable_as_openapi_30` leaves them alone."""


def _nullable_as_openapi_30(node: Any) -> None:
    """Pydantic writes an optional value as JSON Schema 2020-12's ``"anyOf": [X, {"type": "null"}]``; the
    document is OpenAPI 3.0, which has no ``null`` type but ``"nullable": true`` beside a type (3.0 validators
    refused the document, "Unknown type 'null'", and generators typed 49 fields as a union with nothing).
    One type and null become that type, nullable; several types and null each type, nullable (3.0 reads
    ``nullable`` only beside a ``type``). An ``enum`` of a nullable type lists null, as 3.0.3 asks.

    >>> schema = {"properties": {"tier": {"anyOf": [{"type": "string", "enum": ["low", "high"]}, {"type": "null"}],
    ...                                   "description": "Risk tier."}}}
    >>> _nullable_as_openapi_30(schema); schema["properties"]["tier"]
    {'description': 'Risk tier.', 'type': 'string', 'enum': ['low', 'high', None], 'nullable': True}
    >>> schema = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]}
    >>> _nullable_as_openapi_30(schema); schema
    {'anyOf': [{'type': 'string', 'nullable': True}, {'type': 'number', 'nullable': True}]}
    """
    if isinstance(node, list):
        for item in node:
            _nullable_as_openapi_30(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key not in _DATA_KEYWORDS:
            _nullable_as_openapi_30(value)
    members = node.get("anyOf")
    if not isinstance(members, list) or {"type": "null"} not in members:
        return
    others = [member for member in members if member != {"type": "null"}]
    if len(others) == 1 and "type" in others[0] and not set(others[0]) & set(node):
        del node["anyOf"]
        node.update(_nullable(others[0]))
    else:
        node["anyOf"] = [_nullable(member) for member in others]


def _nullable(schema: dict) -> dict:
    """``schema`` that also takes null, as OpenAPI 3.0 says it: ``nullable`` beside its type (a ``$ref``,
    which takes no keyword beside it, wrapped in ``allOf``)."""
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    schema = {**schema, "nullable": True}
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _exclusive_bounds_as_openapi_30(node: Any) -> None:
    """Pydantic writes ``gt=0`` as JSON Schema 2020-12's ``"exclusiveMinimum": 0``; the document is OpenAPI
    3.0, whose ``exclusiveMinimum`` is a flag beside ``minimum`` (a generator reading it as 3.0 dropped the
    bound of ``success_rate``, or refused the document).

    >>> schema = {"properties": {"rate": {"exclusiveMinimum": 0, "maximum": 1, "type": "number"}}}
    >>> _exclusive_bounds_as_openapi_30(schema); schema["properties"]["rate"]
    {'exclusiveMinimum': True, 'maximum': 1, 'type': 'number', 'minimum': 0}
    """
    if isinstance(node, list):
        for item in node:
            _exclusive_bounds_as_openapi_30(item)
    elif isinstance(node, dict):
        for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            value = node.get(flag)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                node[flag], node[bound] = True, value
        for value in node.values():
            _exclusive_bounds_as_openapi_30(value)


def _body_as_accepted(body: dict) -> None:
    """A POST body's schema as the route takes it: the body is required (an empty one is a 400),
    and an optional field may be null (BentoML's inline copy of the schema drops the null that
    the component schema has, so a valid ``{"budget": null}`` read as invalid)."""
    body["required"] = True
    for media in (body.get("content") or {}).values():
        for prop in ((media.get("schema") or {}).get("properties") or {}).values():
            if isinstance(prop, dict) and "default" in prop and prop["default"] is None and "type" in prop:
                prop["nullable"] = True


DOCS_REWRITES = {"/": _without_tracking, "/docs.json": _openapi_for_callers}


def _rewritten(send: Any, transform: Any) -> Any:
    """``send`` with the response body collected and passed through ``transform`` (small, public
    documents only), its content-length fixed."""
    start: dict | None = None
    chunks: list[bytes] = []

    async def wrapped(message: dict) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            return await send(message)
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        if start["status"] == 200:
            body = transform(body)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return wrapped


def _validate(model: type[BaseModel], body: bytes) -> str | None:
    if not body.strip():
        return "The request body is empty. Send a JSON object, e.g. as in the API docs' example."
    try:
        model.model_validate_json(body)
    except ValidationError as exc:
        # Without the values sent (never echoed nor logged), but for a null, which iter_problems tells apart.
        errors = [{**error, "input": None} if "input" in error and error["input"] is None else
                  {k: v for k, v in error.items() if k != "input"}
                  for error in exc.errors(include_url=False, include_context=False)]
        if any(e.get("type") == "json_invalid" for e in errors):
            return f"The request body is not valid JSON ({errors[0].get('msg', 'invalid JSON')}). Send a JSON object."
        if any(e.get("type") == "model_type" and not e.get("loc") for e in errors):
            return "The request body must be a JSON object, e.g. as in the API docs' example."
        return f"{iter_problems(errors)}."
    return None


async def _read_body(receive: Any, limit: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _json_errors(send: Any, scope: dict, routes: Mapping[str, Any]) -> Any:
    """``send`` with a plain-text 404/405 (the router's) replaced by a JSON error that says what exists."""
    status, allow = None, None

    async def wrapped(message: dict) -> None:
        nonlocal status, allow
        if message["type"] == "http.response.start" and message["status"] in (404, 405):
            # the router's plain text, or FastAPI's {"detail": ...} for a mounted route
            headers = dict(message.get("headers", []))
            status, allow = message["status"], headers.get(b"allow", b"").decode("latin-1")
            return
        if status is None:
            return await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            method, path = scope.get("method", ""), scope.get("path", "")
            endpoints = ", ".join([*(f"POST {route}" for route in routes), "GET /model"])
            if status == 404:
                text = f"There is no {path}. The endpoints are {endpoints}."
            else:
                text = f"{method} is not allowed on {path}" + (f"; use {allow}." if allow else ".")
            await _respond(send, status, text, {"allow": allow} if allow else None)

    return wrapped


async def _answering_errors(app: Any, scope: dict, receive: Any, send: Any) -> None:
    """Run ``app``; an exception it raises before its answer has started is logged with its traceback
    and answered with a JSON 500 (:data:`INTERNAL_ERROR`) through ``send``, so with the headers
    ``send`` adds, and counted in ``/metrics``. BentoML's OpenTelemetry middleware, in front of the
    guard, raised on a ``Host`` header such as ``\\xff\\`` (it decodes what is not UTF-8 as Python escapes):
    Starlette's outermost handler answered a plain-text 500 without the security headers (such a header
    reaches it escaped now, :func:`_with_text_headers`). Raised after the answer started, it goes on to
    uvicorn, which closes the connection.

    >>> import asyncio
    >>> async def failing(scope, receive, send):
    ...     raise ValueError("in front of the guard")
    >>> sent = []
    >>> async def send(message):
    ...     sent.append(message)
    >>> asyncio.run(_answering_errors(failing, {"type": "http", "path": "/score", "method": "POST"}, None,
    ...                               _with_security_headers(send, "/score")))
    >>> sent[0]["status"], dict(sent[0]["headers"])[b"x-frame-options"], json.loads(sent[1]["body"])
    (500, b'DENY', {'error': 'An unexpected error has occurred, please check the server log.'})
    """
    started = False

    async def tracked(message: dict) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, tracked)
    except Exception:
        if started:
            raise
        logger.exception("Exception on %s [%s], before the request reached the service", scope.get("path", ""),
                         scope.get("method", ""))
        await _respond(send, 500, INTERNAL_ERROR)


def _undecodable_header(scope: dict) -> str | None:
    """The name of the first header of ``scope`` whose value is not UTF-8 text (``Content-Type``), else None."""
    for name, value in scope.get("headers", []):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return "-".join(part.capitalize() for part in bytes(name).decode("latin-1").split("-"))
    return None


def _with_text_headers(scope: dict) -> dict:
    """``scope`` with each header value that is not UTF-8 text backslash-escaped (``\\xff``), and
    :data:`UNDECODABLE_HEADER` naming the first such header, for :class:`RequestGuard` to answer 400.

    BentoML's middleware in front of the guard decode header values as UTF-8: its access log a
    ``Content-Type`` of ``\\xff`` after the answer's head was sent (the client got a head without a
    body, the log a traceback, on any path and without a key), and OpenTelemetry a ``Host`` (with
    ``trace_requests`` also ``User-Agent`` and the trace headers) such as ``\\xff\\``, answered as a 500
    with a traceback. Escaped, the access log writes the value as the escape.
    """
    name = _undecodable_header(scope)
    if name is None:
        return scope
    headers = [(key, bytes(value).decode("utf-8", "backslashreplace").encode("ascii", "backslashreplace"))
               for key, value in scope.get("headers", [])]
    return {**scope, "headers": headers, UNDECODABLE_HEADER: name}


def _with_security_headers(send: Any, path: str) -> Any:
    """``send`` with :data:`SECURITY_HEADERS` added to the answer's start, each unless the answer
    sets its own (so wrapping twice adds nothing); the docs page's static files (``/static_content/``,
    no data) may be cached."""
    wanted = [(k, v) for k, v in SECURITY_HEADERS if k != b"cache-control" or not path.startswith(PUBLIC_PREFIXES)]

    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {bytes(k).lower() for k, _ in headers}
            message = {**message, "headers": [*headers, *((k, v) for k, v in wanted if k not in present)]}
        await send(message)

    return wrapped


async def _respond(send: Any, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
    payload = json.dumps({"error": message}).encode("utf-8")
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})

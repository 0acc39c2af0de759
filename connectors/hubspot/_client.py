"""A small HubSpot CRM v3 client: bearer token, client-side rate limit, retries, paging, batches.

The token comes from ``CDP_HUBSPOT_TOKEN`` and is only ever put in the Authorization header;
messages name paths and status codes, never the token or record values.
"""

import logging
import os
import random
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import tenacity
from pyrate_limiter import Limiter, Rate

from connectors.sync import DestinationUnavailable, SyncConfigError, SyncError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_RATE_LIMIT = 100
MAX_BATCH = 100
MAX_PAGE = 100
# HubSpot counts a request when it arrives, the limiter when it leaves: a request that travels
# faster than the one a window before it would land inside HubSpot's window. 2 % of slack avoids that.
_WINDOW_SLACK = 0.02


class HubSpotError(SyncError):
    """HubSpot refused a request; the message has the status and HubSpot's own message."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _Transient(Exception):
    """A response worth retrying: 429 ten-secondly, 5xx, timeouts, dropped connections."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HubSpotClient:
    """Calls the HubSpot CRM v3 API under a requests-per-window budget, retrying transient failures.

    Attributes:
        base_url: API root, ``https://api.hubapi.com`` unless configured.
        calls: Requests sent so far, per ``METHOD path`` (for summaries and benchmarks).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        rate_limit: int | None = None,
        window_s: float = 10.0,
        timeout_s: float = 30.0,
        max_attempts: int = 6,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        """Create a client.

        Args:
            token: Private-app access token; defaults to ``CDP_HUBSPOT_TOKEN``.
            base_url: API root; defaults to ``CDP_HUBSPOT_BASE_URL`` or HubSpot's public one.
            rate_limit: Requests allowed per ``window_s``; defaults to ``CDP_HUBSPOT_RATE_LIMIT`` or 100.
            window_s: The rate-limit window in seconds (HubSpot's is 10).
            timeout_s: Per-request timeout.
            max_attempts: Attempts per request before giving up on a transient failure.
            backoff_s: First backoff when HubSpot gives no Retry-After; doubles per attempt.
            max_backoff_s: Longest single wait.

        Raises:
            SyncConfigError: No token, or an unusable rate limit.
        """
        token = token or os.environ.get("CDP_HUBSPOT_TOKEN", "").strip()
        if not token:
            raise SyncConfigError(
                "CDP_HUBSPOT_TOKEN is not set; create a private app in HubSpot and export its token"
            )
        self.base_url = (
            base_url or os.environ.get("CDP_HUBSPOT_BASE_URL", "").strip() or DEFAULT_BASE_URL
        ).rstrip("/")
        limit_text = os.environ.get("CDP_HUBSPOT_RATE_LIMIT", "").strip()
        try:
            limit = rate_limit or int(limit_text or DEFAULT_RATE_LIMIT)
        except ValueError:
            raise SyncConfigError(f"CDP_HUBSPOT_RATE_LIMIT '{limit_text}' is not a whole number") from None
        if limit < 1:
            raise SyncConfigError("CDP_HUBSPOT_RATE_LIMIT must be at least 1")
        self._limiter = Limiter(Rate(limit, round(window_s * 1000 * (1 + _WINDOW_SLACK))))
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout_s,
        )
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self.calls: dict[str, int] = {}

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Send one request within the budget; retry 429 (ten-secondly), 5xx and timeouts.

        Args:
            method: HTTP method.
            path: Path under the base URL.
            json: JSON body.
            params: Query parameters.

        Returns:
            The response: 2xx, or a 4xx other than 401/403/429 for the caller to interpret (404,
            400, 409 carry per-record meaning).

        Raises:
            DestinationUnavailable: The daily limit is spent, or transient failures outlasted the
                retries; the caller retries later.
            HubSpotError: 401/403 (token or scopes).
        """
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            stop=tenacity.stop_after_attempt(self._max_attempts),
            wait=self._wait,
            reraise=True,
        )
        try:
            return retrying(self._send, method, path, json, params)
        except _Transient as exc:
            raise DestinationUnavailable(
                f"HubSpot {method} {path} still failing after {self._max_attempts} attempts: {exc}"
            ) from None

    def _send(self, method: str, path: str, body: Any, params: dict[str, Any] | None) -> httpx.Response:
        self._acquire()
        name = f"{method} {path}"
        self.calls[name] = self.calls.get(name, 0) + 1
        try:
            response = self._http.request(method, path, json=body, params=params)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Transient(f"{type(exc).__name__}") from None
        status = response.status_code
        if status == 429:
            policy = _json(response).get("policyName", "")
            if policy == "DAILY":
                raise DestinationUnavailable(
                    "HubSpot's daily API limit is spent; the remaining records are retried on the next run"
                )
            raise _Transient(f"429 {policy or 'rate limited'}", _retry_after(response))
        if status >= 500:
            raise _Transient(f"{status} {_message(response)}", _retry_after(response))
        if status in (401, 403):
            raise HubSpotError(
                f"HubSpot {name} answered {status} ({_message(response)}); check CDP_HUBSPOT_TOKEN and the "
                f"private app's scopes (crm.objects.contacts/companies read+write, crm.schemas read+write, "
                f"crm.lists read+write)",
                status,
            )
        return response

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self._max_backoff_s)
        backoff = self._backoff_s * 2 ** (retry_state.attempt_number - 1)
        return min(backoff * (0.5 + random.random() / 2), self._max_backoff_s)

    def _acquire(self) -> None:
        self._limiter.try_acquire("hubspot", blocking=True)

    def paged(self, path: str, params: dict[str, Any], limit: int = MAX_PAGE) -> Iterator[dict[str, Any]]:
        """Yield every result of a GET endpoint that pages with ``limit`` and ``paging.next.after``.

        Args:
            path: Endpoint path.
            params: Query parameters besides ``limit`` and ``after``.
            limit: Page size (at most 100).

        Yields:
            Each item of ``results``, page after page.
        """
        after = None
        while True:
            query = {**params, "limit": min(limit, MAX_PAGE), **({"after": after} if after else {})}
            body = self.checked(self.request("GET", path, params=query))
            yield from body.get("results", [])
            after = (body.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return

    def checked(self, response: httpx.Response) -> dict[str, Any]:
        """Return a 2xx response's JSON body (empty for 204); raise HubSpotError for anything else."""
        if response.status_code >= 300:
            raise HubSpotError(
                f"HubSpot {response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {_message(response)}",
                response.status_code,
            )
        return _json(response)

    def iter_objects(self, object_type: str, properties: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Yield every object of a type (``contacts``, ``companies``) with the given properties.

        Args:
            object_type: CRM object type.
            properties: Property names to return.

        Yields:
            ``{"id", "properties", "createdAt", "updatedAt", "archived"}`` per object.
        """
        yield from self.paged(f"/crm/v3/objects/{object_type}", {"properties": ",".join(properties)})

    def batch(self, object_type: str, action: str, body: dict[str, Any]) -> httpx.Response:
        """POST one batch (``read``, ``update``, ``upsert``, ``archive``) of at most 100 inputs.

        Args:
            object_type: CRM object type.
            action: The batch action.
            body: Request body with ``inputs``.

        Returns:
            The response (200/201/204, or 207 multi-status with per-record errors, or a 4xx).
        """
        if len(body.get("inputs", [])) > MAX_BATCH:
            raise ValueError(f"a HubSpot batch takes at most {MAX_BATCH} inputs")
        return self.request("POST", f"/crm/v3/objects/{object_type}/batch/{action}", json=body)

    def ensure_properties(
        self, object_type: str, group: dict[str, Any], definitions: Sequence[dict[str, Any]]
    ) -> list[str]:
        """Create the property group and the custom properties that do not exist yet.

        Args:
            object_type: CRM object type.
            group: ``{"name", "label"}`` of the property group.
            definitions: Property definitions as ``POST /crm/v3/properties/{type}`` takes them.

        Returns:
            Names of the properties created.
        """
        groups = self.checked(self.request("GET", f"/crm/v3/properties/{object_type}/groups"))
        if group["name"] not in {g["name"] for g in groups.get("results", [])}:
            self.checked(self.request("POST", f"/crm/v3/properties/{object_type}/groups", json=group))
        existing = self.checked(self.request("GET", f"/crm/v3/properties/{object_type}"))
        names = {p["name"] for p in existing.get("results", [])}
        created = []
        for definition in definitions:
            if definition["name"] in names:
                continue
            self.checked(
                self.request(
                    "POST",
                    f"/crm/v3/properties/{object_type}",
                    json={**definition, "groupName": group["name"]},
                )
            )
            created.append(definition["name"])
        return created


def _json(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"results": body}


def _message(response: httpx.Response) -> str:
    return str(_json(response).get("message") or response.reason_phrase)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None

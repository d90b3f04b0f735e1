"""A client of kairosd's REST API v1, and the OpenStack-to-Kairos project map.

Both drivers reach Kairos only through this module: JSON over HTTP(S)
with a bearer token (``requests``, which Cinder and Manila already use).
kairosd answers every error as ``{"error", "description"}``; the
description is the ledger's own message ("project os-...: volume bytes
quota exceeded: 450GiB allocated + 100GiB requested > 500GiB limit"), and
it is kept in every exception raised here so that the services can show it.

Thread safety: a Client may be shared by the green threads of a service
(each request is its own HTTP exchange); Projects serialises project
creation with a lock.
"""

import re
import threading
import time

import requests

from kairos import options

GiB = 1024**3

# A Kairos name: what projects, allocations, snapshots and bindings are called.
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

# Polling a slow operation: start fast, then back off to this.
POLL_MAX_S = 2.0


class KairosError(Exception):
    """kairosd refused or failed a request (or could not be reached)."""

    def __init__(self, status, error, description):
        super().__init__(description)
        self.status = status  # HTTP status, 0 when kairosd was not reached
        self.error = error  # kairosd's "error": "QuotaExceeded", "NotFound", ...
        self.description = description

    def __str__(self):
        return "kairosd: %s" % self.description


class NotFound(KairosError):
    pass


class Conflict(KairosError):
    """Exists with other attributes, or is busy (bindings, clones)."""


class QuotaExceeded(KairosError):
    """The project's quota (QuotaExceeded) or the cluster's capacity
    (CapacityExceeded) refused the request."""


class Unreachable(KairosError):
    pass


_ERRORS = {
    "NotFound": NotFound,
    "Conflict": Conflict,
    "QuotaExceeded": QuotaExceeded,
    "CapacityExceeded": QuotaExceeded,
}


def _error(status, error, description):
    return _ERRORS.get(error, KairosError)(status, error or "Error", description)


def valid_name(name):
    return isinstance(name, str) and bool(NAME_RE.match(name))


def location(text, prefix):
    """The Kairos names in a location this package wrote, "<prefix>project/alloc[@snap]".

    Return: a tuple of 2 or 3 names, or None when @text is no such location
    (or names something that is no Kairos name, which this package never wrote).
    """
    if not text or not text.startswith(prefix):
        return None
    rest, _, snap = text[len(prefix):].partition("@")
    names = tuple(rest.split("/")) + ((snap,) if snap else ())
    if len(names) != (3 if snap else 2) or not all(valid_name(n) for n in names):
        return None
    return names


def read_token(path):
    """The bearer token: the first line of @path, stripped."""
    with open(path, encoding="ascii") as f:
        token = f.readline().strip()
    if not token:
        raise ValueError("token file %s is empty" % path)
    return token


class Client:
    """One kairosd, reached at @url with the token in @token_file."""

    def __init__(self, url, token_file, ca_file=None, timeout=60, operation_timeout=900):
        self.url = url.rstrip("/")
        self.token_file = token_file
        self.verify = ca_file or True
        self.timeout = timeout
        self.operation_timeout = operation_timeout
        self._token = read_token(token_file)
        self._session = requests.Session()

    def request(self, method, path, body=None, params=None):
        """@method @path; Return: (status, JSON answer). Raise KairosError on 4xx/5xx."""
        try:
            return self._request(method, path, body, params)
        except KairosError as e:
            # A token rotated in its file since it was read: take the new one, once.
            if e.status != 401:
                raise
            try:
                token = read_token(self.token_file)
            except (OSError, ValueError):
                raise e from None
            if token == self._token:
                raise
            self._token = token
            return self._request(method, path, body, params)

    def _request(self, method, path, body, params):
        headers = {"Authorization": "Bearer " + self._token, "Accept": "application/json"}
        try:
            r = self._session.request(
                method,
                self.url + path,
                json=body,
                params=params,
                headers=headers,
                verify=self.verify,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as e:
            raise Unreachable(0, "Unreachable", "%s %s: %s" % (method, self.url, e)) from e
        try:
            answer = r.json() if r.content else {}
        except ValueError:
            answer = {"error": "BadAnswer", "description": r.text[:200]}
        if r.status_code >= 400:
            raise _error(
                r.status_code,
                answer.get("error") if isinstance(answer, dict) else None,
                answer.get("description", "HTTP %d" % r.status_code)
                if isinstance(answer, dict)
                else "HTTP %d" % r.status_code,
            )
        return r.status_code, answer

    def get(self, path, params=None):
        return self.request("GET", path, params=params)[1]

    def call(self, method, path, body=None, params=None):
        """A request whose 202 (an operation) is waited for.

        Return: the JSON answer of a synchronous call, or the operation's
        final record. Raise the operation's error as KairosError.
        """
        status, answer = self.request(method, path, body, params)
        if status == 202 and "operation" in answer:
            return self.wait(answer["operation"])
        return answer

    def wait(self, operation):
        """Poll /v1/operations/@operation until it ends (operation_timeout at most)."""
        deadline = time.monotonic() + self.operation_timeout
        pause = 0.05
        while True:
            op = self.get("/v1/operations/" + operation)
            if op.get("state") == "succeeded":
                return op
            if op.get("state") == "failed":
                raise _error(409, op.get("error"), op.get("description", "operation failed"))
            if time.monotonic() > deadline:
                raise KairosError(
                    504,
                    "Timeout",
                    "operation %s (%s) still in progress after %d s"
                    % (operation, op.get("description"), self.operation_timeout),
                )
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX_S)

    # Allocations: kind is "volumes" or "shares".

    def alloc_path(self, project, kind, name=None):
        p = "/v1/projects/%s/%s" % (project, kind)
        return p + "/" + name if name else p

    def cluster(self):
        """fsid, mon_host, block_pool, cephfs_name, share_root."""
        return self.get("/v1/cluster")

    def capacity(self):
        return self.get("/v1/capacity")

    def usage(self, project):
        return self.get("/v1/projects/%s/usage" % project)


def mon_addrs(mon_host):
    """The monitors' v1 (legacy) addresses in @mon_host, as [(host, port)].

    mon_host is "[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[...]"; libvirt's
    <host> elements, os-brick and CephFS export locations take one
    "host:port" per monitor, on the v1 port (as Cinder's and Manila's own
    Ceph drivers give them). A monitor without a v1 address gives its v2 one.
    """
    out = []
    for mon in _split_top(mon_host):
        # "[v2:...,v1:...]" is one monitor's address vector; "[::1]:6789" an IPv6 address.
        entries = _split_top(mon[1:-1]) if mon.startswith("[v") else [mon]
        parsed = []
        for e in entries:
            kind, _, rest = e.partition(":") if e[:3] in ("v1:", "v2:") else ("", "", e)
            host, _, port = rest.rpartition(":")
            if host and port.isdigit():
                parsed.append((kind, host.strip("[]"), port))
        chosen = [p for p in parsed if p[0] != "v2"] or parsed
        out.extend((host, port) for _, host, port in chosen[:1])
    return out


def _split_top(text):
    """@text split at the commas outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


class Refused(Exception):
    """An OpenStack project that this backend does not serve."""


class Projects:
    """The Kairos project of each OpenStack project, made on first use.

    Created from kairos_project_plan when it does not exist, with the
    OpenStack project as its owner; refused when no plan is configured or
    the project is not mapped.
    """

    def __init__(self, client, mapping, template, plan):
        self.client = client
        self.mapping = dict(mapping or {})
        self.template = template or ""
        self.plan = plan or ""
        self._known = set()
        self._lock = threading.Lock()
        for os_id, name in self.mapping.items():
            if not valid_name(name):
                raise ValueError("kairos_project_map: %s: %r is no Kairos name" % (os_id, name))

    def name(self, os_project):
        """The Kairos name of @os_project, or raise Refused."""
        if os_project in self.mapping:
            return self.mapping[os_project]
        if not self.template:
            raise Refused(
                "OpenStack project %s has no Kairos project: it is not in "
                "kairos_project_map and kairos_project_template is empty" % os_project
            )
        name = self.template.replace(options.PROJECT_ID, str(os_project).lower())
        if not valid_name(name):
            raise Refused(
                "OpenStack project %s maps to %r, which is no Kairos name "
                "(1 to 63 of a-z, 0-9 and '-')" % (os_project, name)
            )
        return name

    def pinned(self):
        """The one Kairos project every OpenStack project maps to, or None."""
        names = set(self.mapping.values())
        if self.template:
            if options.PROJECT_ID in self.template:
                return None
            names.add(self.template)
        return names.pop() if len(names) == 1 else None

    def ensure(self, os_project):
        """The Kairos name of @os_project, creating the project if allowed."""
        name = self.name(os_project)
        if name in self._known:
            return name
        with self._lock:
            try:
                self.client.get("/v1/projects/" + name)
            except NotFound:
                if not self.plan:
                    raise Refused(
                        "Kairos project %s (of OpenStack project %s) does not "
                        "exist and kairos_project_plan is empty" % (name, os_project)
                    )
                try:
                    self.client.request(
                        "POST",
                        "/v1/projects",
                        {
                            "name": name,
                            "plan": self.plan,
                            "owner": {"platform": "openstack", "id": str(os_project)},
                        },
                    )
                except Conflict:
                    pass  # made meanwhile by another service or broker
            self._known.add(name)
        return name


def capacity_stats(client, projects, kind):
    """Capacity of @kind ("volume" or "share") as the schedulers read it, in GiB.

    total is the cluster's admission limit and free what admission has
    left of it, both in effective bytes (a kind's bytes divided by its
    overcommit); provisioned is what is allocated of @kind, and
    max_over_subscription_ratio the kind's overcommit, so that the
    schedulers' thin-provisioning arithmetic is Kairos's own. A backend
    whose OpenStack projects all map to one Kairos project is bounded by
    that project's quota as well.
    """
    cap = client.capacity()
    k = cap["kinds"][kind]
    ratio = float(k.get("overcommit") or 1.0)
    total = cap["limit"]
    free = max(0, cap["limit"] - cap["allocated_effective"])
    pinned = projects.pinned()
    if pinned:
        try:
            u = client.usage(pinned)[kind]
        except NotFound:
            u = None  # made on first use: the plan's quota is not known yet
        if u and u.get("quota_bytes") is not None:
            total = min(total, u["quota_bytes"] / ratio)
            free = min(free, max(0, u["quota_bytes"] - u["allocated_bytes"]) / ratio)
    return {
        "total_capacity_gb": round(total / GiB, 2),
        "free_capacity_gb": round(free / GiB, 2),
        "provisioned_capacity_gb": round(k["allocated_bytes"] / GiB, 2),
        "max_over_subscription_ratio": ratio,
    }


def make(conf):
    """A Client and Projects from a driver's configuration (oslo.config)."""
    for opt in ("kairos_url", "kairos_token_file"):
        if not conf.safe_get(opt):
            raise ValueError("%s is required" % opt)
    client = Client(
        conf.safe_get("kairos_url"),
        conf.safe_get("kairos_token_file"),
        conf.safe_get("kairos_ca_file"),
        conf.safe_get("kairos_timeout"),
        conf.safe_get("kairos_operation_timeout"),
    )
    projects = Projects(
        client,
        conf.safe_get("kairos_project_map"),
        conf.safe_get("kairos_project_template"),
        conf.safe_get("kairos_project_plan"),
    )
    return client, projects

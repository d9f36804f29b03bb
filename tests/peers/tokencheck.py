"""Check an EKS bearer token the way the EKS API server does, then verify its signature.

Written from the checks in kubernetes-sigs/aws-iam-authenticator `pkg/token/token.go`
(`Verify`, `verifySTSHostnameFormat`) and the project's REFERENCE.md section 1, without
its code:

1. length <= 4096 bytes, prefix `k8s-aws-v1.`, base64 URL-safe alphabet without padding;
2. scheme `https`, path exactly `/`, host an STS endpoint of an AWS partition (below);
3. only the allowed query keys, each at most once, compared case-insensitively;
4. `Action=GetCallerIdentity`, `X-Amz-SignedHeaders` names `x-k8s-aws-id`,
   `X-Amz-Expires` in 0..900, `X-Amz-Date` parses and `now <= date + 15 min`.

Instead of replaying the URL to STS, the signature is then recomputed with botocore's
`SigV4QueryAuth` (the token's own date, session token, expiry and signing region, plus
header `x-k8s-aws-id: <expected cluster>`) and compared in constant time. That needs the
secret key of the access key named in `X-Amz-Credential`.

Host rule (same set as aws-iam-authenticator, for any partition rather than one):
`sts.amazonaws.com` (global, signed as us-east-1), or `sts*.<region>.<domain>` where the
host is exactly what the STS endpoint rules (botocore's copy of the ruleset the Go SDK
uses) give for <region> with FIPS and/or dual-stack on or off, and <domain> is one the
authenticator lists for the region's partition:

    aws, aws-us-gov  amazonaws.com       | api.aws
    aws-cn           amazonaws.com.cn    | api.amazonwebservices.com.cn
    aws-eusc         amazonaws.eu        | api.amazonwebservices.eu
    aws-iso          c2s.ic.gov          (no dual-stack)
    aws-iso-b        sc2s.sgov.gov       (no dual-stack)
    aws-iso-e        cloud.adc-e.uk      (no dual-stack)
    aws-iso-f        csp.hci.ic.gov      (no dual-stack)

Module use:  verify(token, cluster_id, secret_for, now=None) -> dict, or raises TokenError.
CLI:         python tokencheck.py --cluster C --secret SK [--now EPOCH] TOKEN
             prints the dict as JSON and exits 0, or prints {"error": "..."} and exits 1.
"""

import argparse
import base64
import binascii
import calendar
import datetime
import functools
import hmac
import json
import re
import sys
import threading
import time
from unittest import mock
from urllib.parse import parse_qsl, urlencode, urlsplit

import botocore.loaders
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.endpoint_provider import EndpointProvider

PREFIX = "k8s-aws-v1."
MAX_TOKEN_BYTES = 4096
VALID_FOR_SECONDS = 15 * 60
CLUSTER_HEADER = "x-k8s-aws-id"
ALLOWED_KEYS = {
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
    "x-amz-expires", "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
}
AUTH_KEYS = ALLOWED_KEYS - {"action", "version"}
GLOBAL_HOST = "sts.amazonaws.com"
PARTITION_DOMAINS = {
    "aws": ("amazonaws.com", "api.aws"),
    "aws-us-gov": ("amazonaws.com", "api.aws"),
    "aws-cn": ("amazonaws.com.cn", "api.amazonwebservices.com.cn"),
    "aws-eusc": ("amazonaws.eu", "api.amazonwebservices.eu"),
    "aws-iso": ("c2s.ic.gov",),
    "aws-iso-b": ("sc2s.sgov.gov",),
    "aws-iso-e": ("cloud.adc-e.uk",),
    "aws-iso-f": ("csp.hci.ic.gov",),
}
REGION_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$")
BASE64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")
INT_RE = re.compile(r"^[+-]?\d+$")

# botocore's signer reads the clock through a module-level function; patching it is
# process-wide, so signing is serialised.
_SIGN_LOCK = threading.Lock()


class TokenError(Exception):
    """The token would be rejected; `reason` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@functools.lru_cache(maxsize=1)
def _sts_rules():
    loader = botocore.loaders.create_loader()
    partitions = loader.load_data("partitions")
    provider = EndpointProvider(loader.load_service_model("sts", "endpoint-rule-set-1"), partitions)
    return provider, partitions["partitions"]


def _partition_of(region):
    """Partition id the endpoint rules pick for `region` (default: aws)."""
    _, partitions = _sts_rules()
    for p in partitions:
        if region in p.get("regions", {}):
            return p["id"]
    for p in partitions:
        if re.match(p["regionRegex"], region):
            return p["id"]
    return "aws"


@functools.lru_cache(maxsize=256)
def _resolved_hosts(region):
    """{host: signing region} for the four FIPS x dual-stack STS endpoints of `region`."""
    provider, _ = _sts_rules()
    hosts = {}
    for fips in (False, True):
        for dualstack in (False, True):
            try:
                ep = provider.resolve_endpoint(
                    Region=region, UseFIPS=fips, UseDualStack=dualstack, UseGlobalEndpoint=False)
            except Exception:  # the rules refuse this combination for the region
                continue
            schemes = ep.properties.get("authSchemes") or [{}]
            hosts[urlsplit(ep.url).netloc] = schemes[0].get("signingRegion", region)
    return hosts


def sts_signing_region(host):
    """Signing region for an accepted STS host; TokenError for any other host."""
    if host == GLOBAL_HOST:
        return "us-east-1"
    labels = host.split(".")
    if len(labels) < 4:
        raise TokenError(f"unexpected hostname {host!r} in pre-signed URL")
    region = labels[1]
    if not REGION_RE.match(region):
        raise TokenError(f"invalid region {region!r} in hostname {host!r}")
    partition = _partition_of(region)
    if ".".join(labels[2:]) not in PARTITION_DOMAINS.get(partition, ()):
        raise TokenError(f"unexpected hostname {host!r}: not an STS domain of partition {partition}")
    signing_region = _resolved_hosts(region).get(host)
    if signing_region is None:
        raise TokenError(f"unexpected hostname {host!r} in pre-signed URL")
    return signing_region


def _decode(token):
    if len(token.encode()) > MAX_TOKEN_BYTES:
        raise TokenError("token is too large")
    if not token.startswith(PREFIX):
        raise TokenError(f"token is missing expected {PREFIX!r} prefix")
    body = token[len(PREFIX):]
    if not BASE64URL_RE.match(body) or len(body) % 4 == 1:
        raise TokenError("token is not unpadded URL-safe base64")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise TokenError(f"token does not decode: {e}") from None


def parse(token, now=None):
    """Run the server's format checks; return the parsed URL parts as a dict."""
    url = _decode(token)
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise TokenError(f"unexpected scheme {parts.scheme!r} in pre-signed URL")
    host = parts.netloc
    signing_region = sts_signing_region(host)
    if parts.path != "/":
        raise TokenError("unexpected path in pre-signed URL")
    if ";" in parts.query:
        raise TokenError("malformed query parameter")
    params = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        lower = key.lower()
        if lower not in ALLOWED_KEYS:
            raise TokenError(f"non-whitelisted query parameter {key!r}")
        if lower in params:
            raise TokenError(f"duplicate query parameter {key!r}")
        params[lower] = (key, value)
    value = {k: v for k, (_, v) in params.items()}
    if value.get("action") != "GetCallerIdentity":
        raise TokenError("unexpected action parameter in pre-signed URL")
    signed_headers = value.get("x-amz-signedheaders", "")
    if CLUSTER_HEADER not in [h.lower() for h in signed_headers.split(";")]:
        raise TokenError(f"client did not sign the {CLUSTER_HEADER} header in the pre-signed URL")
    expires = value.get("x-amz-expires", "")
    if not INT_RE.match(expires) or not 0 <= int(expires) <= 900:
        raise TokenError(f"invalid X-Amz-Expires parameter in pre-signed URL: {expires!r}")
    date = value.get("x-amz-date", "")
    if not date:
        raise TokenError("X-Amz-Date parameter must be present in pre-signed URL")
    try:
        if not AMZ_DATE_RE.match(date):
            raise ValueError("not YYYYMMDDTHHMMSSZ")
        signed_at = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
    except ValueError as e:
        raise TokenError(f"error parsing X-Amz-Date parameter {date!r}: {e}") from None
    now = time.time() if now is None else now
    if now > signed_at + VALID_FOR_SECONDS:
        raise TokenError(f"X-Amz-Date parameter is expired (15 minute expiration) {date}")
    return {
        "url": url,
        "host": host,
        "signing_region": signing_region,
        "params": params,
        "signed_at": signed_at,
        "expires": int(expires),
        "signed_headers": signed_headers,
        "access_key_id": value.get("x-amz-credential", "").split("/")[0],
    }


def _check_scope(p):
    """What STS checks before the signature: algorithm and credential scope."""
    value = {k: v for k, (_, v) in p["params"].items()}
    if value.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise TokenError("X-Amz-Algorithm must be AWS4-HMAC-SHA256")
    scope = value.get("x-amz-credential", "").split("/")
    if len(scope) != 5 or scope[3:] != ["sts", "aws4_request"] or not scope[0]:
        raise TokenError("X-Amz-Credential must be AKID/yyyymmdd/region/sts/aws4_request")
    if scope[1] != value["x-amz-date"][:8]:
        raise TokenError("X-Amz-Credential date does not match X-Amz-Date")
    if scope[2] != p["signing_region"]:
        raise TokenError(f"credential scoped to {scope[2]!r}, "
                         f"host {p['host']} expects {p['signing_region']!r}")
    if sorted(h.lower() for h in p["signed_headers"].split(";")) != ["host", CLUSTER_HEADER]:
        raise TokenError(f"X-Amz-SignedHeaders must be host;{CLUSTER_HEADER} "
                         "(the server replays no other header)")
    if "x-amz-signature" not in value:
        raise TokenError("X-Amz-Signature is missing")


def expected_signature(p, cluster_id, secret_access_key):
    """Signature botocore gives the token's request, signed for `cluster_id`."""
    value = {k: v for k, (_, v) in p["params"].items()}
    operation = urlencode([pair for lower, pair in p["params"].items() if lower not in AUTH_KEYS])
    request = AWSRequest(method="GET", url=f"https://{p['host']}/?{operation}",
                         headers={CLUSTER_HEADER: cluster_id})
    credentials = Credentials(p["access_key_id"], secret_access_key, value.get("x-amz-security-token"))
    auth = SigV4QueryAuth(credentials, "sts", p["signing_region"], expires=value["x-amz-expires"])
    signed_at = datetime.datetime.fromtimestamp(p["signed_at"], datetime.timezone.utc).replace(tzinfo=None)
    with _SIGN_LOCK, mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
        auth.add_auth(request)
    return dict(parse_qsl(urlsplit(request.url).query))["X-Amz-Signature"]


def verify(token, cluster_id, secret_for, now=None):
    """Full check. `secret_for` is the secret key string or a callable AKID -> secret or None."""
    p = parse(token, now)
    _check_scope(p)
    secret = secret_for(p["access_key_id"]) if callable(secret_for) else secret_for
    if not secret:
        raise TokenError(f"unknown access key {p['access_key_id']}")
    want = expected_signature(p, cluster_id, secret)
    got = p["params"]["x-amz-signature"][1]
    if not hmac.compare_digest(want.encode(), got.encode()):
        raise TokenError(f"signature mismatch: not signed for cluster {cluster_id!r} "
                         "with this access key's secret")
    session_token = p["params"].get("x-amz-security-token", (None, None))[1]
    return {
        "access_key_id": p["access_key_id"],
        "session_token": session_token,
        "region": p["signing_region"],
        "host": p["host"],
        "signed_at": p["signed_at"],
        "valid_until": p["signed_at"] + VALID_FOR_SECONDS,
        "expires": p["expires"],
        "signed_headers": p["signed_headers"],
        "cluster_id": cluster_id,
        "cluster_ok": True,
        "url": p["url"],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cluster", required=True, help="cluster name / Outposts id the server expects")
    ap.add_argument("--secret", required=True, help="secret access key of the token's access key")
    ap.add_argument("--now", type=float, help="current time, unix seconds (default: the clock)")
    ap.add_argument("token")
    args = ap.parse_args(argv)
    try:
        result = verify(args.token, args.cluster, args.secret, args.now)
    except TokenError as e:
        print(json.dumps({"error": e.reason}))
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

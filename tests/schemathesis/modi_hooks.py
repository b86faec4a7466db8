"""ModI integrity for schemathesis runs against the Approdo REST gateway.

Loaded with SCHEMATHESIS_HOOKS=modi_hooks (this folder on PYTHONPATH) by the
end-to-end test `rest_gateway::schemathesis_finds_no_failure_over_the_whole_document`.
The voucher and the tracking evidence are fixed for the run (given with -H);
what depends on each request's exact bytes is signed here, at the last moment,
on the prepared request `requests` is about to send:

- `Digest: SHA-256=<base64>` of the body, replacing a value schemathesis
  generated when it is a well-formed one (a malformed value is a negative test
  case and is left for the gateway to refuse);
- `Agid-JWT-Signature` (INTEGRITY_REST_02), signed with the consumer's ES256 key,
  over that digest and the Content-Type, with a fresh jti, when the run gives
  the header (a run that drops it tests that the gateway refuses its absence).

Environment: APPRODO_MODI_KEY (PEM file of the consumer's private key),
APPRODO_MODI_KID, APPRODO_MODI_AUDIENCE.
"""

import base64
import hashlib
import os
import re
import time
import uuid

import jwt
import requests.adapters

_KEY = open(os.environ["APPRODO_MODI_KEY"], "rb").read()
_KID = os.environ["APPRODO_MODI_KID"]
_AUDIENCE = os.environ["APPRODO_MODI_AUDIENCE"]
_WELL_FORMED_DIGEST = re.compile(r"^SHA-256=[A-Za-z0-9+/]{43}=$")

_send = requests.adapters.HTTPAdapter.send


def _body_bytes(body):
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return None


def _signed_send(self, request, *args, **kwargs):
    body = _body_bytes(request.body)
    if body is not None and request.method in ("POST", "PUT", "PATCH"):
        given = request.headers.get("Digest")
        if given is None or _WELL_FORMED_DIGEST.match(given):
            digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
            request.headers["Digest"] = digest
        if "Agid-JWT-Signature" in request.headers:
            now = int(time.time())
            claims = {
                "aud": _AUDIENCE,
                "iat": now,
                "nbf": now,
                "exp": now + 60,
                "jti": str(uuid.uuid4()),
                "signed_headers": [
                    {"digest": request.headers.get("Digest", "")},
                    {"content-type": request.headers.get("Content-Type", "")},
                ],
            }
            request.headers["Agid-JWT-Signature"] = jwt.encode(
                claims, _KEY, algorithm="ES256", headers={"kid": _KID}
            )
    return _send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _signed_send

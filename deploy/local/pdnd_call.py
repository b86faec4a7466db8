#!/usr/bin/env python3
"""Calls the local REST gateway as a PDND consumer would, for trying it out.

PDND and the consumer are played with the test-only keys of tests/fixtures/pdnd (the local
gateway, deploy/local/gateway.toml, trusts them; no deployment does): the "platform" signs a
voucher (RS256), the consumer signs its tracking evidence (AUDIT_REST_02) and, for a body, the
Digest in Agid-JWT-Signature (INTEGRITY_REST_02). Prints the curl command it runs, then runs it.

    PYTHONPATH=.tools/pylib python3 deploy/local/pdnd_call.py GET /v1/referrals?overdueOnly=true
    PYTHONPATH=.tools/pylib python3 deploy/local/pdnd_call.py POST /v1/cases '{"facilityId": ...}'

Needs PyJWT and cryptography (installed by `cargo xtask setup` into .tools/pylib).
"""

import base64
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
import uuid

import jwt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEYS = os.path.join(ROOT, "tests", "fixtures", "pdnd")
GATEWAY = os.environ.get("APPRODO_GATEWAY_URL", "http://127.0.0.1:8080")
AUDIENCE = "approdo-rest-local"  # deploy/local/gateway.toml [pdnd] audience
CLIENT_ID = "8d1a4f3e-0000-4000-8000-00000000a6a6"  # the Agrigento prefecture's client
PURPOSE_ID = "purpose-ag-cases"


def key(name):
    with open(os.path.join(KEYS, name), "rb") as file:
        return file.read()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    method, target = sys.argv[1].upper(), sys.argv[2]
    body = sys.argv[3].encode() if len(sys.argv) > 3 else None
    now = int(time.time())
    evidence = jwt.encode(
        {"iss": CLIENT_ID, "aud": AUDIENCE, "purposeId": PURPOSE_ID, "userID": "operator-17",
         "userLocation": "ufficio-immigrazione", "LoA": "LoA3", "jti": str(uuid.uuid4()),
         "iat": now, "exp": now + 120},
        key("consumer-ag.pem"), algorithm="ES256", headers={"kid": "consumer-ag-1"})
    voucher = jwt.encode(
        {"iss": "uat.interop.pagopa.it", "aud": AUDIENCE, "sub": CLIENT_ID, "client_id": CLIENT_ID,
         "purposeId": PURPOSE_ID, "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 600,
         "digest": {"alg": "SHA256", "value": hashlib.sha256(evidence.encode()).hexdigest()}},
        key("platform-rsa.pem"), algorithm="RS256", headers={"kid": "pdnd-test-rsa", "typ": "at+jwt"})
    headers = {"Authorization": f"Bearer {voucher}", "Agid-JWT-TrackingEvidence": evidence}
    if body is not None:
        digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
        headers["Content-Type"] = "application/json"
        headers["Digest"] = digest
        headers["Agid-JWT-Signature"] = jwt.encode(
            {"aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 60, "jti": str(uuid.uuid4()),
             "signed_headers": [{"digest": digest}, {"content-type": "application/json"}]},
            key("consumer-ag.pem"), algorithm="ES256", headers={"kid": "consumer-ag-1"})
        headers["Idempotency-Key"] = str(uuid.uuid4())
    command = ["curl", "-sS", "-X", method, GATEWAY + target]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if body is not None:
        command += ["--data-binary", body.decode()]
    print(" ".join(shlex.quote(part) for part in command), file=sys.stderr)
    answer = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        print(json.dumps(json.loads(answer.stdout), indent=2))
    except ValueError:
        print(answer.stdout)


if __name__ == "__main__":
    main()

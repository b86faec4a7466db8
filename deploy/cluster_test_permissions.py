#!/usr/bin/env python3
"""Part of deploy/cluster-test.sh: what the screening service's NATS user may not do.

Connects as `screening` to $NATS_URL and expects the server to refuse each forbidden action
(a permissions violation); also shows the known gap: STREAM.UPDATE is permitted (the service
provisions the stream at start), and the server accepts a limit change such as max_age.
"""

import asyncio
import json
import os
import sys

import nats
from nats.errors import TimeoutError as NatsTimeout

STREAM = "APPRODO_CASE_LOG"
FORBIDDEN_PUBLISH = [
    ("approdo.case.x.referral", b"x", "another producer's subject"),
    ("approdo.person.x.screening", b"x", "a subject outside the scheme"),
    (f"$JS.API.STREAM.DELETE.{STREAM}", b"", "deleting the case log"),
    (f"$JS.API.STREAM.PURGE.{STREAM}", b"{}", "purging the case log"),
    (f"$JS.API.STREAM.MSG.DELETE.{STREAM}", b'{"seq":1}', "deleting a commit"),
    ("$JS.API.STREAM.CREATE.OTHER", b'{"name":"OTHER","subjects":["other.>"]}', "creating another stream"),
]


async def main():
    url = os.environ["NATS_URL"]
    errors = []

    async def on_error(error):
        errors.append(str(error).lower())

    # Replies come on the user's own inbox prefix: it may subscribe to no other.
    nc = await nats.connect(url, user="screening", password=os.environ["APPRODO_NATS_SCREENING_PASSWORD"],
                            inbox_prefix="_INBOX_SCREENING", error_cb=on_error, allow_reconnect=False, connect_timeout=3)
    failures = 0

    def verdict(ok, text):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + text)
        failures += 0 if ok else 1

    for subject, payload, what in FORBIDDEN_PUBLISH:
        answered = False
        try:
            await nc.request(subject, payload, timeout=2)
            answered = True
        except NatsTimeout:
            pass
        await asyncio.sleep(0.2)
        refused = any(f'publish to "{subject.lower()}"' in e for e in errors)
        verdict(refused and not answered, f"screening refused {what} ({subject})")
    await nc.subscribe("approdo.>")
    await nc.flush(timeout=2)
    await asyncio.sleep(0.3)
    verdict(any('subscription to "approdo.>"' in e for e in errors), "screening refused subscribing to approdo.>")
    await nc.subscribe("_INBOX_REFERRAL.>")
    await nc.flush(timeout=2)
    await asyncio.sleep(0.3)
    verdict(any('subscription to "_inbox_referral.>"' in e for e in errors),
            "screening refused subscribing to referral's replies")

    info = json.loads((await nc.request(f"$JS.API.STREAM.INFO.{STREAM}", b"", timeout=2)).data)
    config = dict(info["config"], deny_delete=False, deny_purge=False)
    reply = json.loads((await nc.request(f"$JS.API.STREAM.UPDATE.{STREAM}", json.dumps(config).encode(), timeout=2)).data)
    verdict(reply.get("error", {}).get("err_code") == 10052,
            "the server refuses to lift deny_delete/deny_purge through STREAM.UPDATE")
    config = dict(info["config"], max_age=3600 * 10**9)
    reply = json.loads((await nc.request(f"$JS.API.STREAM.UPDATE.{STREAM}", json.dumps(config).encode(), timeout=2)).data)
    print("note known gap: STREAM.UPDATE of max_age by a service's user is "
          + ("ACCEPTED (limits could expire commits)" if "error" not in reply else "refused"))
    # put it back as the services provision it
    await nc.request(f"$JS.API.STREAM.UPDATE.{STREAM}", json.dumps(info["config"]).encode(), timeout=2)
    await nc.close()

    for user, password, what in [("screening", "wrong", "a wrong password"), (None, None, "no credentials")]:
        try:
            other = await nats.connect(url, user=user, password=password, allow_reconnect=False,
                                       connect_timeout=3, max_reconnect_attempts=0)
            await other.close()
            verdict(False, f"refused {what}")
        except Exception as error:  # noqa: BLE001 - any refusal will do
            verdict("authorization violation" in str(error).lower(), f"refused {what}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if asyncio.run(main()) else 0)

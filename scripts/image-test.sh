#!/usr/bin/env bash
# make image-test: build the image, run it as a deployer would, prove it from outside, export it,
# load the .tar back under a new name and run that copy. Stops at the first wrong answer, printing
# the container's log. Whatever happens, removes what it started (containers, the volume, the
# SMTP sink, the store the copy was loaded into, the name it was tagged with); it leaves the
# image ($IMAGE) and the tar ($IMAGE_TAR), as `make image-tar` does.
#
# Needs root the first time on a host without Docker (scripts/image.sh installs podman), curl,
# jq, and the dev virtualenv's aiosmtpd for the SMTP sink (make image-test provides it).
set -euo pipefail
cd "$(dirname "$0")/.."

export IMAGE=${IMAGE:-incident-portal:latest} IMAGE_TAR=${IMAGE_TAR:-incident-portal.tar}
PYTHON=${PYTHON:-.venv/bin/python}
READY_PATH=/health/ready
IN_FLIGHT=4                      # gunicorn.conf.py's 2 workers x 2 threads: one request per thread
RUN_ID=$$
NAME=portal-image-test-$RUN_ID   # the container under test
VOLUME=portal-image-test-$RUN_ID
COPY_NAME=portal-image-copy-$RUN_ID
COPY_IMAGE=incident-portal-loaded:test-$RUN_ID
WORK=$(mktemp -d)
SINK_PID="" CLIENT_PID="" ENGINE="" COPY_ENGINE=()
PASSED=0 STARTED=$(date +%s.%N)
declare -A TOOK

# --- reporting ----------------------------------------------------------------------------------

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
ok() { PASSED=$((PASSED + 1)); printf '  ok %2d  %s\n' "$PASSED" "$*"; }
fail() {
  echo "FAIL: $*" >&2
  if [ -n "$ENGINE" ] && $ENGINE inspect "$NAME" >/dev/null 2>&1; then
    echo "--- the container's log (last 40 lines) ---" >&2
    $ENGINE logs --tail 40 "$NAME" >&2 2>&1 || true
  fi
  exit 1
}

cleanup() {
  local status=$?
  set +e
  [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
  if [ -n "$ENGINE" ]; then
    local rm=(rm -f)
    [ "$ENGINE" = podman ] && rm=(rm -f -t 0)  # podman's rm -f would first wait out the stop timeout
    $ENGINE "${rm[@]}" "$NAME" >/dev/null 2>&1
    $ENGINE volume rm -f "$VOLUME" >/dev/null 2>&1
    if [ ${#COPY_ENGINE[@]} -gt 0 ]; then
      "${COPY_ENGINE[@]}" "${rm[@]}" "$COPY_NAME" >/dev/null 2>&1
      "${COPY_ENGINE[@]}" rmi -f "$COPY_IMAGE" >/dev/null 2>&1
      if [ "$ENGINE" = podman ]; then
        "${COPY_ENGINE[@]}" rmi -af >/dev/null 2>&1
        findmnt -rn -o TARGET | grep "^$WORK/" | sort -r | xargs -r umount 2>/dev/null
      fi
    fi
  fi
  rm -rf "$WORK"
  [ "$status" -eq 0 ] || echo "image-test: FAILED after $(since "$STARTED") s (everything it started is removed)" >&2
}
trap cleanup EXIT

# --- helpers ------------------------------------------------------------------------------------

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() {  # wait_for URL SECONDS: until URL answers 200; fails after SECONDS
  local url=$1 limit=$2 from
  from=$(now)
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    awk -v a="$from" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && return 1
    sleep 0.1
  done
}

api() {  # api METHOD PATH TOKEN [JSON]: the answer's body; fails on any 4xx/5xx
  local send=()
  [ $# -lt 4 ] || send=(-H 'Content-Type: application/json' -d "$4")
  curl -fsS -X "$1" "$BASE$2" -H "Authorization: Bearer $3" "${send[@]}"
}

token() {  # token USERNAME: an API token for a demo user
  curl -fsS "$BASE/auth/tokens" -H 'Content-Type: application/json' \
    -d "{\"username\": \"$1\", \"password\": \"demo1234\"}" | jq -re .token
}

captured_mail() {  # captured_mail TEXT: "To | Subject" of each captured message whose text part has TEXT
  "$PYTHON" - "$WORK/mail" "$1" <<'EOF'
import mailbox, sys
for message in mailbox.Maildir(sys.argv[1], create=False):
    text = "".join(part.get_payload(decode=True).decode() for part in message.walk()
                   if part.get_content_type() == "text/plain")
    if sys.argv[2] in text:
        print(f"{message['To']} | {message['Subject']}")
EOF
}

run_portal() {  # run_portal: the container under test, as docs/deploy.md runs it, on $PORT
  # The secret reaches podman through the environment, never on a command line.
  SECRET_KEY=$SECRET_KEY $ENGINE run -d --name "$NAME" -p "127.0.0.1:$PORT:5000" -v "$VOLUME:/data" \
    -e SECRET_KEY -e APP_BASE_URL="$BASE" -e SESSION_COOKIE_SECURE=false \
    -e MAIL_SERVER="$GATEWAY" -e MAIL_PORT="$SINK_PORT" -e MAIL_USE_TLS=false \
    "$IMAGE" >/dev/null 2>"$WORK/run.err" || { cat "$WORK/run.err" >&2; fail "the container did not start"; }
}

# --- 1. build ------------------------------------------------------------------------------------

for tool in curl jq; do
  command -v "$tool" >/dev/null || fail "$tool is needed (apt-get install -y $tool)"
done
"$PYTHON" -c 'import aiosmtpd' 2>/dev/null || fail "$PYTHON has no aiosmtpd: run make image-test (it installs requirements-dev.txt)"

echo "image-test: $IMAGE"
from=$(now)
ENGINE=$(scripts/image.sh engine)
TOOK[engine]=$(since "$from")
from=$(now)
scripts/image.sh build >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; fail "the image did not build"; }
TOOK[build]=$(since "$from")
ok "built with $ENGINE $($ENGINE --version | awk '{print $NF}') in ${TOOK[build]} s (engine ready in ${TOOK[engine]} s)"

# --- 2. run: ready, non-root, seed ----------------------------------------------------------------

PORT=$(free_port) SINK_PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
SECRET_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_hex(32))')
if [ "$ENGINE" = podman ]; then
  GATEWAY=$(podman network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}')
else
  GATEWAY=$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')
fi

from=$(now)
run_portal
wait_for "$BASE$READY_PATH" 20 || fail "$READY_PATH did not answer 200 within 20 s"
TOOK[ready]=$(since "$from")
ok "$READY_PATH 200 after ${TOOK[ready]} s (random SECRET_KEY, volume $VOLUME)"

# The SMTP sink listens on the containers' gateway, an address of this host that only the host
# and its containers reach (the bridge exists once a container is attached to it).
# (aiosmtpd makes the Maildir)
"$PYTHON" -m aiosmtpd -n -l "$GATEWAY:$SINK_PORT" -c aiosmtpd.handlers.Mailbox "$WORK/mail" \
  >"$WORK/sink.log" 2>&1 &
SINK_PID=$!

uids=$($ENGINE exec "$NAME" sh -c 'for p in /proc/[0-9]*; do awk "/^Uid:/ {print \$2}" $p/status; done' | sort -u | tr '\n' ' ')
[ "$uids" = "10001 " ] || fail "processes in the container run as uid(s) $uids, not only 10001"
[ "$($ENGINE exec "$NAME" id -u)" = 10001 ] || fail "exec does not run as 10001"
ok "every process in the container runs as uid 10001 (portal), none as root"

$ENGINE exec "$NAME" flask seed >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log" >&2; fail "flask seed failed"; }
ADMIN=$(token admin1)
total=$(api GET "/incidents/?per_page=1" "$ADMIN" | jq -e .total)
$ENGINE exec "$NAME" flask seed >>"$WORK/seed.log" 2>&1 || fail "a second flask seed failed"
[ "$(api GET "/incidents/?per_page=1" "$ADMIN" | jq -e .total)" = "$total" ] || fail "a second flask seed changed the data"
ok "flask seed inside: $total demo incidents; a second run changes nothing"

# --- 3. log in and walk an incident through its life, mail to the sink ----------------------------

jar=$WORK/cookies
csrf=$(curl -fsS -c "$jar" "$BASE/login" | grep -o 'name="csrf_token"[^>]*' | sed -n 's/.*value="\([^"]*\)".*/\1/p')
[ -n "$csrf" ] || fail "the login page has no CSRF token"
code=$(curl -sS -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' "$BASE/login" \
  --data-urlencode "csrf_token=$csrf" -d username=admin1 -d password=demo1234)
[ "$code" = 302 ] || fail "logging in answered $code, not 302"
# Read whole, then searched: `curl | grep -q` under pipefail fails once the page outgrows one write
# (grep leaves at the first match and curl's next write gets EPIPE).
dashboard=$(curl -fsS -b "$jar" "$BASE/") || fail "the dashboard after login did not load"
grep -q 'Welcome, Alice Admin.' <<<"$dashboard" || fail "the dashboard after login does not greet admin1"
ok "admin1 logs in through the form (CSRF token, 302, the dashboard greets them)"

REPORTER=$(token reporter1) TECH=$(token tech1)
ID=$(api POST /incidents/ "$REPORTER" '{"title": "Image test: disk full on build-3", "description": "Checked from outside the container.", "severity": "high", "category": "server"}' | jq -e .id)
TECH1_ID=$(api GET /users/ "$ADMIN" | jq -e '.items[] | select(.username == "tech1") | .id')
api PUT "/incidents/$ID" "$ADMIN" "{\"technician_id\": $TECH1_ID}" | jq -e '.status == "assigned"' >/dev/null \
  || fail "assigning INC-$ID did not make it assigned"
api PUT "/incidents/$ID" "$TECH" '{"status": "in_progress"}' | jq -e '.status == "in_progress"' >/dev/null \
  || fail "starting INC-$ID did not make it in_progress"
api PATCH "/incidents/$ID" "$TECH" '{"status": "resolved", "resolution_notes": "Rotated the logs."}' \
  | jq -e '.status == "resolved"' >/dev/null || fail "resolving INC-$ID did not make it resolved"
ok "curl walkthrough: reporter1 creates INC-$ID, admin1 assigns it to tech1, tech1 starts and resolves it"

link="$BASE/ui/incidents/$ID"
for _ in $(seq 1 60); do  # the sender is woken by the commit; 30 s at most
  mails=$(captured_mail "$link")
  grep -q "Resolved" <<<"$mails" && break
  sleep 0.5
done
grep -q "reporter1.*| \[INC-$ID\] Resolved" <<<"$mails" || { echo "$mails" >&2; fail "no Resolved mail for INC-$ID reached the sink"; }
grep -q "tech1.*| \[INC-$ID\] Assigned" <<<"$mails" || { echo "$mails" >&2; fail "tech1 got no Assigned mail for INC-$ID"; }
ok "the SMTP sink on $GATEWAY got $(wc -l <<<"$mails") mails for INC-$ID (tech1 assigned, reporter1 resolved), linking $link"

# --- 4. SIGTERM with requests in flight, then stop/start keeps the data -------------------------

"$PYTHON" scripts/requests-in-flight.py "$BASE" "$REPORTER" "$IN_FLIGHT" >"$WORK/in-flight.log" 2>&1 &
CLIENT_PID=$!
for _ in $(seq 1 100); do grep -q '^ready' "$WORK/in-flight.log" && break; sleep 0.1; done
grep -q '^ready' "$WORK/in-flight.log" || fail "the in-flight requests were not sent: $(cat "$WORK/in-flight.log")"
from=$(now)
$ENGINE stop -t 10 "$NAME" >/dev/null 2>&1   # SIGTERM, then SIGKILL after 10 s
TOOK[stop]=$(since "$from")
wait "$CLIENT_PID" || { cat "$WORK/in-flight.log" >&2; fail "a request in flight at SIGTERM was lost"; }
CLIENT_PID=""
exit_code=$($ENGINE inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$exit_code" = 0 ] || fail "the container exited with $exit_code after SIGTERM (137: it had to be killed)"
awk -v t="${TOOK[stop]}" 'BEGIN { exit !(t < 10) }' || fail "stopping took ${TOOK[stop]} s"
ok "SIGTERM with $IN_FLIGHT requests half-received: all answered 201, stopped in ${TOOK[stop]} s, exit 0"

from=$(now)
$ENGINE start "$NAME" >/dev/null 2>&1
wait_for "$BASE$READY_PATH" 20 || fail "$READY_PATH did not answer 200 within 20 s of a restart"
TOOK[restart]=$(since "$from")
api GET "/incidents/$ID" "$ADMIN" | jq -e '.status == "resolved" and .resolution_notes == "Rotated the logs."' >/dev/null \
  || fail "INC-$ID did not survive the restart"
while read -r status id title; do
  [ "$status" = 201 ] || continue
  [ "$(api GET "/incidents/$id" "$ADMIN" | jq -r .title)" = "$title" ] || fail "INC-$id ($title) answered 201 before the stop but is gone"
done < <(grep -v '^ready' "$WORK/in-flight.log")
[ "$(api GET "/incidents/?per_page=1" "$ADMIN" | jq -e .total)" = "$((total + 1 + IN_FLIGHT))" ] \
  || fail "the number of incidents changed across the restart"
ok "stopped and started: ready again in ${TOOK[restart]} s, INC-$ID and the $IN_FLIGHT in-flight incidents kept, tokens still valid"

from=$(now)
if [ "$ENGINE" = podman ]; then
  # No systemd here to schedule it, so run the image's own HEALTHCHECK command as podman would.
  podman healthcheck run "$NAME" >/dev/null 2>&1 || fail "the image's HEALTHCHECK failed"
fi
health=""
for _ in $(seq 1 60); do  # docker runs its first check after --interval (30 s)
  health=$($ENGINE inspect --format '{{.State.Health.Status}}' "$NAME")
  [ "$health" = healthy ] && break
  sleep 1
done
[ "$health" = healthy ] || fail "the container's health is '$health'"
ok "the image's HEALTHCHECK ($($ENGINE inspect --format '{{join .Config.Healthcheck.Test " "}}' "$NAME" | sed 's/^CMD //')) reports healthy"
$ENGINE rm -f "$NAME" >/dev/null 2>&1

# --- 5. export, load the tar under a new name, run the copy ---------------------------------------

from=$(now)
scripts/image.sh save 2>"$WORK/save.log" || { cat "$WORK/save.log" >&2; fail "exporting $IMAGE_TAR failed"; }
TOOK[save]=$(since "$from")
tar_mb=$(( $(stat -c %s "$IMAGE_TAR") / 1000000 ))  # MB of 10^6 bytes, as the image size below
ok "exported $IMAGE_TAR: $tar_mb MB in ${TOOK[save]} s"

from=$(now)
if [ "$ENGINE" = podman ]; then
  # A store of its own, empty: the copy runs from nothing but the tar's layers.
  COPY_ENGINE=(podman --root "$WORK/store" --runroot "$WORK/run" --tmpdir "$WORK/tmp")
else
  COPY_ENGINE=(docker)
fi
loaded=$("${COPY_ENGINE[@]}" load -q -i "$IMAGE_TAR" 2>&1) || fail "loading $IMAGE_TAR failed: $loaded"
"${COPY_ENGINE[@]}" tag "$IMAGE" "$COPY_IMAGE"
TOOK[load]=$(since "$from")
COPY_PORT=$(free_port)
from=$(now)
SECRET_KEY=$SECRET_KEY "${COPY_ENGINE[@]}" run -d --name "$COPY_NAME" -p "127.0.0.1:$COPY_PORT:5000" -e SECRET_KEY \
  "$COPY_IMAGE" >/dev/null 2>&1 || fail "the loaded copy did not start"
wait_for "http://127.0.0.1:$COPY_PORT/health" 20 || fail "the loaded copy's /health did not answer 200 within 20 s"
TOOK[copy]=$(since "$from")
ok "loaded the tar as $COPY_IMAGE${COPY_ENGINE[1]:+ into an empty store} in ${TOOK[load]} s; its /health 200 after ${TOOK[copy]} s"

# --- summary --------------------------------------------------------------------------------------

size_mb=$(( $($ENGINE image inspect --format '{{.Size}}' "$IMAGE") / 1000000 ))
echo "image-test: PASSED $PASSED checks in $(since "$STARTED") s with $ENGINE"
echo "  image $IMAGE: $size_mb MB; $IMAGE_TAR: $tar_mb MB"
echo "  timings (s): build ${TOOK[build]}, first ready ${TOOK[ready]}, stop ${TOOK[stop]}, restart ready ${TOOK[restart]}, save ${TOOK[save]}, load ${TOOK[load]}, loaded copy ready ${TOOK[copy]}"

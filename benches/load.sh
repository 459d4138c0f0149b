#!/usr/bin/env bash
# Load test of /metrics: builds release, starts a fake Zoho with N cadences in each of ORGS orgs
# (examples/fake_zoho_server.rs), the exporter pointed at it, and nginx serving a copy of the
# exporter's own /metrics output as a static file (and its gzip form through gzip_static), then
# runs wrk against both in turn with the same threads, connections and duration, and prints
# scrapes/s for each, their ratio, the exporter's RSS, body sizes and collection time.
#
# Every process it starts is bounded in time and stopped on exit; only 127.0.0.1 is loaded.
#
#   benches/load.sh                       # N=10000 ORGS=1
#   N=200 benches/load.sh
#   N=200 ORGS=50 benches/load.sh
#   PER_CADENCE=false N=10000 benches/load.sh
#
# Parameters (environment): N cadences per org (10000), ORGS (1), INTERVAL between collections
# (5s), PER_CADENCE metrics (true), DURATION of each wrk run (20s), THREADS (2), CONNECTIONS (8),
# ROUNDS of the plain+gzip pair (2, alternating exporter and nginx), SETTLE collections to wait
# for before measuring (3), AFTER: seconds of RSS sampling once the load ends (15), EXPORTER_ENV: environment assignments for the exporter, e.g.
# EXPORTER_ENV=MALLOC_MMAP_THRESHOLD_=131072 ("").
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
ORGS=${ORGS:-1}
INTERVAL=${INTERVAL:-5s}
PER_CADENCE=${PER_CADENCE:-true}
DURATION=${DURATION:-20s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-8}
ROUNDS=${ROUNDS:-2}
SETTLE=${SETTLE:-3}
AFTER=${AFTER:-15}
EXPORTER_ENV=${EXPORTER_ENV:-}
# Hard bound for every background process, whatever happens to this script.
LIFETIME=${LIFETIME:-30m}

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || { echo "load.sh needs $tool" >&2; exit 1; }
done

echo "==> building release"
cargo build --release --quiet --bin zoho-cadences-exporter --example fake_zoho_server

work=$(mktemp -d /tmp/zce-load.XXXXXX)
pids=()
cleanup() {
  if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls a condition until it holds or the deadline (seconds) passes.
wait_for() {
  local deadline=$(($(date +%s) + $1)); shift
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "timed out waiting for: $*" >&2; return 1; fi
    sleep 0.2
  done
}

metric_sum() { # sum of a metric over all its series in the exporter's current output
  curl -sf "http://127.0.0.1:$exporter_port/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" { s += $2 } END { printf "%s\n", s + 0 }'
}
metric_max() {
  curl -sf "http://127.0.0.1:$exporter_port/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" { if ($2 > x) x = $2 } END { printf "%s\n", x + 0 }'
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
cpu_seconds() { # utime + stime of a process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

echo "==> fake Zoho: $N cadences x $ORGS org(s)"
target/release/examples/fake_zoho_server --cadences "$N" --orgs "$ORGS" --interval "$INTERVAL" \
  --per-cadence-metrics "$PER_CADENCE" --config "$work/config.yaml" --exit-after "$LIFETIME" \
  >"$work/fake.log" 2>&1 &
pids+=($!)
wait_for 60 test -s "$work/config.yaml"

exporter_port=$(free_port)
# shellcheck disable=SC2086 # EXPORTER_ENV is a list of assignments
env $EXPORTER_ENV timeout "$LIFETIME" target/release/zoho-cadences-exporter --config.file "$work/config.yaml" \
  --web.listen-address "127.0.0.1:$exporter_port" --log.level warn >"$work/exporter.log" 2>&1 &
timeout_pid=$!
pids+=("$timeout_pid")
# RSS and CPU are read from the exporter itself, the child of `timeout`.
exporter_child() { awk '{ print $1 }' "/proc/$timeout_pid/task/$timeout_pid/children" 2>/dev/null; }
has_child() { [ -n "$(exporter_child)" ]; }
wait_for 10 has_child
exporter_pid=$(exporter_child)
started=$(date +%s)
wait_for 600 curl -sf -o /dev/null "http://127.0.0.1:$exporter_port/-/ready"
settled() { [ "$(metric_sum zoho_crm_collections_total)" -ge $((SETTLE * ORGS)) ]; }
echo "==> waiting for $SETTLE collections of every org"
wait_for 1200 settled
# The exporter's CPU per collection, with no scrape load: over at least 30 s and two more
# collections of every org (CPU time is counted in ticks of 10 ms).
cpu_idle_start=$(cpu_seconds "$exporter_pid")
collections_start=$(metric_sum zoho_crm_collections_total)
idle_since=$(date +%s)
two_more() {
  sleep 1
  [ $(($(date +%s) - idle_since)) -ge 30 ] &&
    [ "$(metric_sum zoho_crm_collections_total)" -ge $((collections_start + 2 * ORGS)) ]
}
wait_for 1200 two_more
cpu_idle_end=$(cpu_seconds "$exporter_pid")
collections_end=$(metric_sum zoho_crm_collections_total)

curl -sf -o "$work/metrics" "http://127.0.0.1:$exporter_port/metrics"
curl -sf -H 'Accept-Encoding: gzip' -o "$work/metrics.gz" "http://127.0.0.1:$exporter_port/metrics"
plain_bytes=$(stat -c %s "$work/metrics")
gzip_bytes=$(stat -c %s "$work/metrics.gz")

nginx_port=$(free_port)
mkdir -p "$work/www" "$work/nginx-tmp"
cp "$work/metrics" "$work/www/metrics"
cp "$work/metrics.gz" "$work/www/metrics.gz"
cat >"$work/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
user root;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-tmp;
  proxy_temp_path $work/nginx-tmp;
  fastcgi_temp_path $work/nginx-tmp;
  uwsgi_temp_path $work/nginx-tmp;
  scgi_temp_path $work/nginx-tmp;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    location = /metrics {
      default_type "text/plain; version=0.0.4; charset=utf-8";
      gzip_static on;
    }
  }
}
EOF
nginx -c "$work/nginx.conf" -g 'daemon on;'
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/metrics"
# nginx must answer the very same bytes in both forms.
cmp -s "$work/metrics" <(curl -sf "http://127.0.0.1:$nginx_port/metrics")
cmp -s "$work/metrics.gz" <(curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$nginx_port/metrics")

rps() { awk '/^Requests\/sec:/ { printf "%.1f\n", $2 }'; }
run_wrk() { # label url [header]
  local args=(-t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --timeout 10s)
  [ $# -ge 3 ] && args+=(-H "$3")
  timeout 600 wrk "${args[@]}" "$2" >"$work/wrk-$1.out" 2>&1
  if grep -q 'Non-2xx\|Socket errors' "$work/wrk-$1.out"; then
    echo "    $1: $(grep 'Non-2xx\|Socket errors' "$work/wrk-$1.out")" >&2
  fi
  rps <"$work/wrk-$1.out"
}
declare -A total=()
add() { total[$1]=$(awk -v a="${total[$1]:-0}" -v b="$2" 'BEGIN { printf "%.1f", a + b }'); }

# RSS is sampled every 0.5 s through every phase (idle, plain load, gzip load, after), since one
# reading depends on where in its collection cycle the exporter happens to be.
echo idle >"$work/phase"
(
  while rss=$(rss_kib "$exporter_pid" 2>/dev/null) && [ -n "$rss" ]; do
    echo "$(cat "$work/phase") $rss"
    sleep 0.5
  done
) >"$work/rss.samples" &
sampler_pid=$!
pids+=("$sampler_pid")
sleep "$AFTER"
echo "==> wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per run, $ROUNDS round(s)"
for round in $(seq "$ROUNDS"); do
  for encoding in plain gzip; do
    header=()
    [ "$encoding" = gzip ] && header=('Accept-Encoding: gzip')
    # Alternate who goes first so that neither always runs on a warmer or cooler machine.
    if [ $((round % 2)) = 1 ]; then order=(exporter nginx); else order=(nginx exporter); fi
    for who in "${order[@]}"; do
      port=$exporter_port; [ "$who" = nginx ] && port=$nginx_port
      if [ "$who" = exporter ]; then echo "$encoding" >"$work/phase"; else echo between >"$work/phase"; fi
      r=$(run_wrk "$who-$encoding-$round" "http://127.0.0.1:$port/metrics" "${header[@]}")
      printf '    round %d %-5s %-8s %10s scrapes/s\n' "$round" "$encoding" "$who" "$r"
      add "$who-$encoding" "$r"
    done
  done
done
echo after >"$work/phase"
sleep "$AFTER"
kill "$sampler_pid" 2>/dev/null || true
hwm=$(hwm_kib "$exporter_pid")
rss_phase() { # phase: "mean .. max" of the samples taken in it
  awk -v p="$1" '$1 == p { s += $2; n++; if ($2 > m) m = $2 }
    END { if (n) printf "%.1f..%.1f MiB", s / n / 1024, m / 1024; else print "n/a" }' "$work/rss.samples"
}
uptime=$(($(date +%s) - started))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
avg() { awk -v a="$1" -v n="$ROUNDS" 'BEGIN { printf "%.1f", a / n }'; }
echo
echo "== results: N=$N ORGS=$ORGS per_cadence_metrics=$PER_CADENCE interval=$INTERVAL${EXPORTER_ENV:+ env $EXPORTER_ENV}"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes share the CPU)"
for encoding in plain gzip; do
  e=$(avg "${total[exporter-$encoding]}"); n=$(avg "${total[nginx-$encoding]}")
  printf '%-5s exporter %10s scrapes/s   nginx %10s scrapes/s   ratio %s\n' \
    "$encoding" "$e" "$n" "$(ratio "$e" "$n")"
done
printf 'body  plain %d bytes, gzip %d bytes (%sx smaller), %d bytes per org\n' \
  "$plain_bytes" "$gzip_bytes" "$(ratio "$plain_bytes" "$gzip_bytes")" $((plain_bytes / ORGS))
printf 'rss   mean..max: idle %s, plain load %s, gzip load %s, %ds after load %s; peak %s (uptime %ds, %s collections)\n' \
  "$(rss_phase idle)" "$(rss_phase plain)" "$(rss_phase gzip)" "$AFTER" "$(rss_phase after)" \
  "$(mib "$hwm")" "$uptime" "$(metric_sum zoho_crm_collections_total)"
printf 'collection  last duration (max over orgs) %ss; exporter CPU per org collection %ss (%s collections, no scrapes)\n' \
  "$(metric_max zoho_crm_collection_duration_seconds)" \
  "$(awk -v a="$cpu_idle_start" -v b="$cpu_idle_end" -v n=$((collections_end - collections_start)) 'BEGIN { printf "%.3f", (b - a) / n }')" \
  $((collections_end - collections_start))
failures=$(metric_sum zoho_crm_collection_failures_total)
[ "$failures" = 0 ] || echo "warning: $failures failed collection(s); see $work/exporter.log" >&2

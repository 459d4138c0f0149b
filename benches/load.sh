#!/usr/bin/env bash
# Load test of /metrics: builds release, starts a fake Zoho with N cadences in each of ORGS orgs
# (examples/fake_zoho_server.rs, every org behind one address), the exporter pointed at it, and
# nginx serving a copy of the exporter's own /metrics output as a static file (and its gzip form
# through gzip_static), then runs wrk against both in turn with the same threads, connections
# and duration, and prints scrapes/s for each, their ratio, the exporter's RSS, body sizes and
# collection time.
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

# shellcheck source=benches/lib.sh
. benches/lib.sh
need_tools wrk nginx curl python3

echo "==> building release"
cargo build --release --quiet --bin zoho-cadences-exporter --example fake_zoho_server

echo "==> fake Zoho: $N cadences x $ORGS org(s)"
start_fake --cadences "$N" --orgs "$ORGS" --interval "$INTERVAL" \
  --per-cadence-metrics "$PER_CADENCE"
start_exporter
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

start_nginx
serve_with_nginx metrics "$work/metrics" "$work/metrics.gz"

declare -A total=()
add() { total[$1]=$(awk -v a="${total[$1]:-0}" -v b="$2" 'BEGIN { printf "%.1f", a + b }'); }

# RSS is sampled through every phase (idle, plain load, gzip load, after).
start_rss_sampler idle
pause "$AFTER"
echo "==> wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per run, $ROUNDS round(s)"
for round in $(seq "$ROUNDS"); do
  for encoding in plain gzip; do
    header=()
    [ "$encoding" = gzip ] && header=('Accept-Encoding: gzip')
    # Alternate who goes first so that neither always runs on a warmer or cooler machine.
    if [ $((round % 2)) = 1 ]; then order=(exporter nginx); else order=(nginx exporter); fi
    for who in "${order[@]}"; do
      port=$exporter_port; [ "$who" = nginx ] && port=$nginx_port
      if [ "$who" = exporter ]; then phase "$encoding"; else phase between; fi
      r=$(run_wrk "$who-$encoding-$round" "http://127.0.0.1:$port/metrics" "${header[@]}")
      printf '    round %d %-5s %-8s %10s scrapes/s\n' "$round" "$encoding" "$who" "$r"
      add "$who-$encoding" "$r"
    done
  done
done
phase after
pause "$AFTER"
kill "$sampler_pid" 2>/dev/null || true
hwm=$(hwm_kib "$exporter_pid")
uptime=$(($(date +%s) - started))

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

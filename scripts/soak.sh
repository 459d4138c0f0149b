#!/usr/bin/env bash
# Soak test (not part of scripts/test): the exporter collecting every second from fake Zoho orgs
# that inject random faults, for MINUTES minutes, while being scraped every second. Reports panics,
# RSS over time, collections, failures, API requests and errors, and whether it recovered.
#
#   MINUTES=30 CADENCES=2000 ORGS=2 FAULT_RATE=0.2 scripts/soak.sh
#
# Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${MINUTES:-30}
CADENCES=${CADENCES:-2000}
ORGS=${ORGS:-2}
FAULT_RATE=${FAULT_RATE:-0.2}
SAMPLE_EVERY=${SAMPLE_EVERY:-60}

cargo build --release --locked --bin zoho-cadences-exporter --example fake_zoho_server >/dev/null
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/release/examples/fake_zoho_server --cadences "$CADENCES" --orgs "$ORGS" \
  --config "$work/config.yaml" --interval 1s --timeout 2s --enrollment true --fault-rate "$FAULT_RATE" \
  --exit-after "$((MINUTES + 2))m" >"$work/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/config.yaml" ] && break; sleep 0.1; done
target/release/zoho-cadences-exporter --config.file "$work/config.yaml" \
  --web.listen-address "127.0.0.1:$port" --log.level info 2>"$work/exporter.log" &
exporter=$!
pids+=($exporter)

metric_sum() { # name: sum of all samples of a metric
  awk -v name="$1" '$1 ~ "^"name"({|$)" { s += $NF } END { printf "%d", s }' "$work/metrics"
}

echo "soak: ${MINUTES}m, ${ORGS} org(s) x ${CADENCES} cadences, fault rate ${FAULT_RATE}, logs in $work"
printf '%8s %10s %12s %10s %12s %10s %6s\n' elapsed_s rss_kib collections failures api_requests api_errors up
end=$((SECONDS + MINUTES * 60))
next_sample=$SECONDS
scrape_failures=0
rss_max=0
while [ $SECONDS -lt $end ]; do
  if ! kill -0 "$exporter" 2>/dev/null; then echo "soak: the exporter died"; break; fi
  curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" -o "$work/metrics" || scrape_failures=$((scrape_failures + 1))
  if [ $SECONDS -ge $next_sample ]; then
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$exporter/status")
    [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    printf '%8d %10d %12s %10s %12s %10s %6s\n' $((SECONDS - end + MINUTES * 60)) "$rss" \
      "$(metric_sum zoho_crm_collections_total)" "$(metric_sum zoho_crm_collection_failures_total)" \
      "$(metric_sum zoho_crm_api_requests_total)" "$(metric_sum zoho_crm_api_errors_total)" \
      "$(metric_sum zoho_crm_up)"
    next_sample=$((SECONDS + SAMPLE_EVERY))
  fi
  sleep 1
done

echo "soak: api errors by class:"
grep '^zoho_crm_api_errors_total' "$work/metrics" |
  sed -E 's/.*endpoint="([^"]*)",error="([^"]*)".* ([0-9.e+]+)$/\1 \2 \3/' |
  awk '{ k = $1 " " $2; for (i = 3; i < NF; i++) k = k " " $i; s[k] += $NF } END { for (k in s) printf "  %-40s %d\n", k, s[k] }' | sort
panics=$(grep -c 'panicked' "$work/exporter.log" || true)
echo "soak: panics=$panics scrape_failures=$scrape_failures rss_max_kib=$rss_max alive=$(kill -0 "$exporter" 2>/dev/null && echo yes || echo no)"
[ "$panics" = 0 ] && [ "$scrape_failures" = 0 ] && kill -0 "$exporter" 2>/dev/null

#!/usr/bin/env bash
# Scale benchmark: ORGS orgs of N cadences each against the fake Zoho
# (examples/fake_zoho_server.rs), per-cadence metrics on, `max_concurrent_collections` at its
# default unless MAX_CONCURRENT is set. By default every org is behind one loopback address, as
# Zoho's accounts and API hosts serve all the orgs of a data center (told apart by their
# credentials and tokens), so the exporter's connection pool holds what it holds against Zoho;
# ONE_ADDRESS=false gives each org its own port instead (the earlier set-up, for comparison: a
# pool entry and an idle keep-alive connection per org). Prints, one labelled line each:
#
# - the exporter's RSS idle (after every org's first collection and SETTLE seconds, during a
#   window of IDLE seconds with no scrapes), its peak under the scrape load, and over the AFTER
#   seconds after the load (sampled every 0.5 s);
# - how long after the exporter started every org had its first collection (`/-/ready` turns
#   200 when every org's first collection has ended), against the interval, and the token calls
#   the fake saw in its busiest second of the first interval;
# - the exporter's CPU per org collection: its process CPU time (utime + stime from
#   /proc/<pid>/stat) over the idle window, divided by the collections that ended in it
#   (`zoho_crm_collections_total`, read by one scrape just before and one just after). That is
#   everything the process does for a collection, not the encoding alone: reading the pages over
#   HTTP, decoding the JSON, building the snapshot, encoding the org's part in both formats and
#   gzipping it, plus the runtime's timers; it is an upper bound of the encoding CPU;
# - full `/metrics` with gzip: scrapes/s of the exporter and of nginx serving the same bytes
#   (gzip_static), and their ratio;
# - `/metrics?org=SCRAPE_ORG` with gzip: scrapes/s of the exporter and of nginx serving the
#   bytes the exporter answered for that org, and their ratio. When the exporter has no per-org
#   filter (the body holds other orgs' series, or an unknown org is not a 404), it says so.
#
# Every process it starts is bounded in time (LIFETIME) and stopped on exit; only 127.0.0.1 is
# loaded. It needs wrk, nginx (with gzip_static), curl, gzip and python3.
#
#   benches/scale.sh                                     # ORGS=1000 N=100, interval 1m
#   ORGS=10 benches/scale.sh
#   ORGS=100 INTERVAL=30s IDLE=60 DURATION=10s ROUNDS=1 AFTER=10 benches/scale.sh
#   ONE_ADDRESS=false benches/scale.sh                   # one port per org
#
# Parameters (environment): ORGS (1000), N cadences per org (100), INTERVAL between collections
# (1m), PER_CADENCE metrics (true), SETTLE seconds after the last first collection before the
# idle window (30), IDLE seconds of the no-scrape window (two intervals), DURATION of each wrk
# run (20s), THREADS (2), CONNECTIONS (8), ROUNDS of the four runs (2, alternating who goes
# first), AFTER: seconds of RSS sampling once the load ends (30), SCRAPE_ORG (org000),
# FIRST_WAIT: seconds to wait for every org's first collection before going on without (two
# intervals and a minute), MAX_CONCURRENT: max_concurrent_collections (the default when unset),
# ONE_ADDRESS: every org behind one address (true) or each on its own port (false) (true),
# EXPORTER_ENV: environment assignments for the exporter (""), LIFETIME of every process (60m),
# RSS_LOG: a file to keep the RSS samples in (`<phase> <KiB>`, one every 0.5 s) (not kept).
#
# An hour of collections before the measured windows (the issue's "after an hour"):
#   SETTLE=3300 LIFETIME=90m RSS_LOG=/tmp/rss.log benches/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ORGS=${ORGS:-1000}
N=${N:-100}
INTERVAL=${INTERVAL:-1m}
PER_CADENCE=${PER_CADENCE:-true}
SETTLE=${SETTLE:-30}
DURATION=${DURATION:-20s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-8}
ROUNDS=${ROUNDS:-2}
AFTER=${AFTER:-30}
SCRAPE_ORG=${SCRAPE_ORG:-org000}
MAX_CONCURRENT=${MAX_CONCURRENT:-}
ONE_ADDRESS=${ONE_ADDRESS:-true}
case "$ONE_ADDRESS" in
  true | false) ;;
  *) echo "ONE_ADDRESS must be true or false, not \"$ONE_ADDRESS\"" >&2; exit 2 ;;
esac
EXPORTER_ENV=${EXPORTER_ENV:-}
LIFETIME=${LIFETIME:-60m}

# shellcheck source=benches/lib.sh
. benches/lib.sh
need_tools wrk nginx curl python3 gzip
interval_s=$(seconds_of "$INTERVAL")
IDLE=${IDLE:-$((2 * interval_s))}
FIRST_WAIT=${FIRST_WAIT:-$((2 * interval_s + 60))}
url="http://127.0.0.1"
# Orgs whose first collection has ended (their collections counter is above 0).
orgs_collected() {
  scrape | awk '$1 ~ /^zoho_crm_collections_total[{]/ && $2 > 0 { n++ } END { print n + 0 }'
}

echo "==> building release"
cargo build --release --quiet --bin zoho-cadences-exporter --example fake_zoho_server
build=$(git describe --always --dirty 2>/dev/null || echo unknown)

echo "==> fake Zoho: $ORGS org(s) of $N cadences, one address: $ONE_ADDRESS"
start_fake --cadences "$N" --orgs "$ORGS" --interval "$INTERVAL" \
  --per-cadence-metrics "$PER_CADENCE" --call-log "$work/calls.log" --one-address "$ONE_ADDRESS"
# A top-level key after the `orgs:` list the fake wrote.
[ -z "$MAX_CONCURRENT" ] || echo "max_concurrent_collections: $MAX_CONCURRENT" >>"$work/config.yaml"
start_exporter
started=$(date +%s.%N)
start_rss_sampler start

echo "==> waiting for every org's first collection (interval $INTERVAL, at most ${FIRST_WAIT}s)"
ready() { curl -sf -o /dev/null "$url:$exporter_port/-/ready"; }
if wait_for "$FIRST_WAIT" ready 2>/dev/null; then
  first_all=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  first_line="every org's first collection ended ${first_all}s after start"
else
  # The rest is still measured, over the orgs that collect: a missing first collection is a
  # result to report, not a reason to stop.
  first_all=$FIRST_WAIT
  first_line="NOT every org had its first collection ${FIRST_WAIT}s after start: $(orgs_collected) of $ORGS had"
  echo "    $first_line" >&2
fi

echo "==> settling ${SETTLE}s, then ${IDLE}s with no scrapes (RSS idle, CPU per collection)"
phase settle
pause "$SETTLE"
collections_start=$(metric_sum zoho_crm_collections_total)
phase idle
cpu_start=$(cpu_seconds "$exporter_pid")
pause "$IDLE"
cpu_end=$(cpu_seconds "$exporter_pid")
phase between
collections_end=$(metric_sum zoho_crm_collections_total)

# The bodies nginx serves are the exporter's own answers. The gzip answer is fetched and the
# plain one made from it (the same text: gzip members decompress to their concatenation), which
# spares the exporter a plain scrape of the full body.
curl -sf -H 'Accept-Encoding: gzip' -o "$work/full.gz" "$url:$exporter_port/metrics"
gzip -dc <"$work/full.gz" >"$work/full"
curl -sf -H 'Accept-Encoding: gzip' -o "$work/org.gz" "$url:$exporter_port/metrics?org=$SCRAPE_ORG"
gzip -dc <"$work/org.gz" >"$work/org"
series() { grep -vc '^#' "$1" || true; }
# The filter is there when the org's body has no other org's series and an unknown org is a 404.
others=$(grep -v '^#' "$work/org" | grep -o '[{,]org="[^"]*"' | cut -c2- | grep -vcx "org=\"$SCRAPE_ORG\"" || true)
unknown=$(curl -s -o /dev/null -w '%{http_code}' "$url:$exporter_port/metrics?org=no-such-org-$$")
if [ "$others" = 0 ] && [ "$unknown" = 404 ] && [ "$ORGS" -gt 1 ]; then
  filter="filtered"
elif [ "$ORGS" = 1 ]; then
  filter="one org: the same series as the full body"
else
  filter="NO per-org filter in this build: the body is the full one ($others series of other orgs, unknown org answered $unknown)"
fi

start_nginx
serve_with_nginx full "$work/full" "$work/full.gz"
serve_with_nginx org "$work/org" "$work/org.gz"

declare -A total=()
add() { total[$1]=$(awk -v a="${total[$1]:-0}" -v b="$2" 'BEGIN { printf "%.1f", a + b }'); }
echo "==> wrk, gzip: $THREADS threads, $CONNECTIONS connections, $DURATION per run, $ROUNDS round(s)"
for round in $(seq "$ROUNDS"); do
  for target in full org; do
    # Alternate who goes first so that neither always runs on a warmer or cooler machine.
    if [ $((round % 2)) = 1 ]; then order=(exporter nginx); else order=(nginx exporter); fi
    for who in "${order[@]}"; do
      if [ "$who" = exporter ]; then
        phase load
        path=/metrics; [ "$target" = org ] && path="/metrics?org=$SCRAPE_ORG"
        r=$(run_wrk "$who-$target-$round" "$url:$exporter_port$path" 'Accept-Encoding: gzip')
      else
        phase between
        r=$(run_wrk "$who-$target-$round" "$url:$nginx_port/$target" 'Accept-Encoding: gzip')
      fi
      printf '    round %d %-4s %-8s %10s scrapes/s\n' "$round" "$target" "$who" "$r"
      add "$who-$target" "$r"
    done
  done
done
phase after
pause "$AFTER"
kill "$sampler_pid" 2>/dev/null || true
[ -z "${RSS_LOG:-}" ] || cp "$work/rss.samples" "$RSS_LOG"
hwm=$(hwm_kib "$exporter_pid")
failures=$(metric_sum zoho_crm_collection_failures_total)
collections=$(metric_sum zoho_crm_collections_total)
uptime=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", b - a }')

# The fake logs `<unix second> <token calls> <cadence-page calls>` once a second; the start is
# the first interval, or up to the last first collection if that came later.
start_end=$(awk -v a="$started" -v i="$interval_s" -v f="$first_all" 'BEGIN { printf "%d", a + (f > i ? f : i) + 1 }')
read -r busiest_tokens busiest_pages start_tokens < <(awk -v from="${started%.*}" -v to="$start_end" \
  '$1 >= from && $1 <= to { t += $2; if ($2 > m) { m = $2; p = $3 } } END { printf "%d %d %d\n", m, p, t }' "$work/calls.log")

done_in_idle=$((collections_end - collections_start))
avg() { awk -v a="$1" -v n="$ROUNDS" 'BEGIN { printf "%.1f", a / n }'; }
within=$(awk -v f="$first_all" -v i="$interval_s" 'BEGIN { print (f <= i ? "within" : "LATER than") }')
[ "${first_line#NOT}" = "$first_line" ] || within="LATER than"
echo
echo "== scale: ORGS=$ORGS N=$N ($((ORGS * N)) cadences) per_cadence_metrics=$PER_CADENCE interval=$INTERVAL max_concurrent_collections=${MAX_CONCURRENT:-default} one_address=$ONE_ADDRESS build=$build${EXPORTER_ENV:+ env $EXPORTER_ENV}"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other processes share the CPU)"
printf 'rss idle:            %s (mean..max over %ss with no scrapes, after every first collection and %ss)\n' \
  "$(rss_phase idle)" "$IDLE" "$SETTLE"
printf 'rss under load:      %s (mean..max during the exporter'"'"'s wrk runs); VmHWM since start %s\n' \
  "$(rss_phase load)" "$(mib "$hwm")"
printf 'rss settling:        %s (mean..max over the %ss before the idle window)\n' "$(rss_phase settle)" "$SETTLE"
printf 'rss after load:      %s (mean..max over %ss after the load)\n' "$(rss_phase after)" "$AFTER"
printf 'first collections:   %s, %s the interval (%ss)\n' "$first_line" "$within" "$interval_s"
printf 'token calls at start: %d in the busiest second (with %d cadence pages), %d in all over the first %ss\n' \
  "$busiest_tokens" "$busiest_pages" "$start_tokens" "$((start_end - ${started%.*}))"
printf 'CPU per org collection: %s ms (%ss of process CPU over %ss with no scrapes, %d collections; includes fetching and decoding pages, not only encoding)\n' \
  "$(awk -v a="$cpu_start" -v b="$cpu_end" -v n="$done_in_idle" 'BEGIN { if (n > 0) printf "%.2f", (b - a) * 1000 / n; else print "n/a" }')" \
  "$(awk -v a="$cpu_start" -v b="$cpu_end" 'BEGIN { printf "%.2f", b - a }')" "$IDLE" "$done_in_idle"
e=$(avg "${total[exporter-full]}"); n=$(avg "${total[nginx-full]}")
printf 'full /metrics gzip:  exporter %s scrapes/s, nginx %s scrapes/s, ratio %s (%d series, plain %d bytes, gzip %d bytes)\n' \
  "$e" "$n" "$(ratio "$e" "$n")" "$(series "$work/full")" "$(stat -c %s "$work/full")" "$(stat -c %s "$work/full.gz")"
e=$(avg "${total[exporter-org]}"); n=$(avg "${total[nginx-org]}")
printf '?org=%s gzip:    exporter %s scrapes/s, nginx %s scrapes/s, ratio %s (%d series, plain %d bytes, gzip %d bytes; %s)\n' \
  "$SCRAPE_ORG" "$e" "$n" "$(ratio "$e" "$n")" "$(series "$work/org")" "$(stat -c %s "$work/org")" "$(stat -c %s "$work/org.gz")" "$filter"
printf 'run: uptime %ss, %s collections, %s failed\n' "$uptime" "$collections" "$failures"
[ "$failures" = 0 ] || echo "warning: $failures failed collection(s)" >&2

# shellcheck shell=bash
# Helpers shared by benches/load.sh and benches/scale.sh (sourced, not run): a work directory
# and an exit trap that stops every process started, the fake Zoho and the exporter started
# under a lifetime, polling, RSS and CPU readings from /proc, nginx serving files with
# gzip_static, wrk runs.
#
# The caller sets LIFETIME (hard bound of every background process) and, for wrk, THREADS,
# CONNECTIONS and DURATION. Only 127.0.0.1 is used.

# Fails early, naming the tool, when one is missing.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$(basename "$0") needs $tool" >&2; exit 1; }
  done
}

# A fresh work directory in $work; every pid pushed onto $pids and nginx (from $work/nginx.pid)
# are stopped when the script exits, however it exits.
work=$(mktemp -d "/tmp/zce-bench.XXXXXX")
pids=()
cleanup() {
  if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
# A signal exits (and so cleans up) rather than cleaning up and going on.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Sleeps in the background and waits for it: bash runs a trap only once the foreground command
# ends, so a plain `sleep 3300` would hold off Ctrl-C and the cleanup for up to an hour. The
# sleep is one of $pids, so that the cleanup, which waits for every child, stops it too.
pause() {
  sleep "$1" &
  pids+=($!)
  wait $!
}

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

# Seconds in a humantime-style duration with one unit (90s, 1m, 2h, 500ms rounds down).
seconds_of() {
  case "$1" in
    *ms) echo $((${1%ms} / 1000)) ;;
    *s) echo "${1%s}" ;;
    *m) echo $((${1%m} * 60)) ;;
    *h) echo $((${1%h} * 3600)) ;;
    *) echo "$1" ;;
  esac
}

# Starts the fake Zoho (examples/fake_zoho_server.rs) with the given flags plus --config
# $work/config.yaml, and waits until it has written the exporter's config.
start_fake() {
  target/release/examples/fake_zoho_server --config "$work/config.yaml" --exit-after "$LIFETIME" \
    "$@" >"$work/fake.log" 2>&1 &
  pids+=($!)
  wait_for 120 test -s "$work/config.yaml"
}

# Starts the exporter on $work/config.yaml under `timeout $LIFETIME`, listening on a free
# port; sets $exporter_port and $exporter_pid (the exporter itself, the child of `timeout`,
# whose RSS and CPU are read). Extra environment assignments in $EXPORTER_ENV.
start_exporter() {
  exporter_port=$(free_port)
  # shellcheck disable=SC2086 # EXPORTER_ENV is a list of assignments
  env ${EXPORTER_ENV:-} timeout "$LIFETIME" target/release/zoho-cadences-exporter \
    --config.file "$work/config.yaml" --web.listen-address "127.0.0.1:$exporter_port" \
    --log.level warn >"$work/exporter.log" 2>&1 &
  timeout_pid=$!
  pids+=("$timeout_pid")
  wait_for 10 _exporter_started
  exporter_pid=$(_exporter_child)
}
_exporter_child() { awk '{ print $1 }' "/proc/$timeout_pid/task/$timeout_pid/children" 2>/dev/null; }
_exporter_started() { [ -n "$(_exporter_child)" ]; }

# The exporter's current output, fetched in gzip (which spares it inflating the plain text) and
# inflated by gzip(1): the body is several gzip members, on which curl's --compressed fails
# (curl 7.88: write error).
scrape() { curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$exporter_port/metrics" | gzip -dc; }
# Sum and maximum of a metric over all its series in the exporter's current output.
metric_sum() {
  scrape | awk -v m="$1" '$1 ~ "^"m"({|$)" { s += $2 } END { printf "%s\n", s + 0 }'
}
metric_max() {
  scrape | awk -v m="$1" '$1 ~ "^"m"({|$)" { if ($2 > x) x = $2 } END { printf "%s\n", x + 0 }'
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
cpu_seconds() { # utime + stime of a process, in seconds (counted in ticks of 10 ms)
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# Samples the exporter's RSS every 0.5 s into $work/rss.samples, each sample tagged with the
# phase named in $work/phase (set it with `phase NAME`), since one reading depends on where in
# its collection cycle the exporter happens to be.
phase() { echo "$1" >"$work/phase"; }
start_rss_sampler() {
  phase "${1:-idle}"
  (
    while rss=$(rss_kib "$exporter_pid" 2>/dev/null) && [ -n "$rss" ]; do
      echo "$(cat "$work/phase") $rss"
      sleep 0.5
    done
  ) >"$work/rss.samples" &
  sampler_pid=$!
  pids+=("$sampler_pid")
}
rss_phase() { # phase...: "mean..max MiB" of the samples taken in these phases
  awk -v p=" $* " 'index(p, " " $1 " ") { s += $2; n++; if ($2 > m) m = $2 }
    END { if (n) printf "%.1f..%.1f MiB", s / n / 1024, m / 1024; else print "n/a" }' "$work/rss.samples"
}

# Starts nginx on a free port ($nginx_port) serving the files of $work/www as text, each with
# its gzip form (NAME.gz beside NAME) through gzip_static, from every worker the cores allow.
start_nginx() {
  nginx_port=$(free_port)
  mkdir -p "$work/www" "$work/nginx-tmp"
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
    location / {
      default_type "text/plain; version=0.0.4; charset=utf-8";
      gzip_static on;
    }
  }
}
EOF
  nginx -c "$work/nginx.conf" -g 'daemon on;'
  wait_for 10 test -s "$work/nginx.pid"
}

# Copies a body and its gzip form to nginx as /NAME and checks that nginx answers the very same
# bytes in both forms.
serve_with_nginx() { # name plain-file gzip-file
  cp "$2" "$work/www/$1"
  cp "$3" "$work/www/$1.gz"
  wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/$1"
  cmp -s "$2" <(curl -sf "http://127.0.0.1:$nginx_port/$1") ||
    { echo "nginx does not answer /$1 with the bytes of $2" >&2; return 1; }
  cmp -s "$3" <(curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$nginx_port/$1") ||
    { echo "nginx does not answer /$1 in gzip with the bytes of $3" >&2; return 1; }
}

# One wrk run: prints scrapes/s; errors and non-2xx answers go to stderr with the label.
run_wrk() { # label url [header]
  local args=(-t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --timeout 10s)
  [ $# -ge 3 ] && args+=(-H "$3")
  timeout 600 wrk "${args[@]}" "$2" >"$work/wrk-$1.out" 2>&1
  if grep -q 'Non-2xx\|Socket errors' "$work/wrk-$1.out"; then
    echo "    $1: $(grep 'Non-2xx\|Socket errors' "$work/wrk-$1.out")" >&2
  fi
  awk '/^Requests\/sec:/ { printf "%.1f\n", $2 }' "$work/wrk-$1.out"
}

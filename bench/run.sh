#!/usr/bin/env bash
# Side-by-side benchmarks: serve against h2o, nginx, lighttpd, darkhttpd and python's http.server;
# fetch against curl and wget. Every figure is taken in the same run on the same machine, the
# servers interleaved (A B C A B C ...) so drift hits all alike; BENCHMARKS.md reports medians
# and ratios to the best peer. Loopback only; every load run is bounded in time.
#
# Each "new connection per request" run checks that it measured what it says: the kernel's
# count of accepted TCP connections (TcpPassiveOpens) must grow by about one per request
# answered, else the row is recorded as invalid (value 0) and a warning is printed.
# nginx-return (nginx `return 200`, no file I/O, no log) is the near-limit reference: shown
# in the table, never counted as a peer.
#
# Issue 16's rows come from a second serve (--upload --overwrite --compress --archive) and a
# second nginx (dav_methods PUT, gzip on), started after the rows above and recorded as serve
# and nginx: a PUT of the big file with curl -T (and each server's peak RSS meanwhile), 64 KiB
# of text with Accept-Encoding: gzip (each server's answer checked to be gzip first: the
# -is-gzip rows), and a folder as big as the big file as one ?download=tar against the big file
# itself from the same serve (folder-tar-ratio).
#
# Issue 18's rows: the big file from serve --digest (the first request, while its digest is
# made in the background, and after it is known) against plain serve, and fetch downloading it
# with and without the sha-256 to check.
# Issue 17's rows (fetch --mirror against wget) come from bench/mirror.sh, which also runs alone.
# Issue 15's rows (fetch against curl): the big file PUT to that second nginx by fetch -T and
# by curl -T (put-big, wall and CPU), and a tiny file start to finish with hyperfine, no shell
# (tiny-startup: fetch -s against curl -s, the mean of each round).
# Issue 23's rows (serve over TLS 1.3 against nginx, h2o and lighttpd, one ECDSA P-256
# certificate): see its section below. Their new-connection rows check, besides the
# connections, that each handshake was what the row says (full or resumed: the -resumed rows,
# counted by bench/tls_handshakes.c preloaded into wrk).
#
# bench/report.py turns the raw CSV into the table (medians, the range of the rounds, the
# ratio to the best peer, and the best rounds' ratio beside it: issue 27). Every wrk run is
# started by bench/placement.py, which records beside the CSV (results/STAMP-placement.csv)
# how much CPU the server's threads and wrk's had on each CPU, thread by thread: what a fast
# round and a slow one of the same server differ in.
#
#   bench/run.sh           full run (about 37 minutes on 2 cores, 8 of them issue 23's rows)
#   bench/run.sh --quick   a smaller run (about 6 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0
[[ ${1:-} == --quick ]] && QUICK=1
if ((QUICK)); then
  CONNS=(16 256); SECS=2; ROUNDS=1; BIG_MB=256; SMALL_FILES=300
else
  CONNS=(1 16 64 256 1024); SECS=5; ROUNDS=3; BIG_MB=1024; SMALL_FILES=1000
fi

log() { printf 'bench: %4ds %s\n' "$SECONDS" "$*" >&2; } # seconds since the start

# --- peers -----------------------------------------------------------------------------------
need=()
for p in wrk:wrk nginx:nginx-light lighttpd:lighttpd h2o:h2o curl:curl wget:wget hyperfine:hyperfine python3:python3; do
  command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
# TLS peers: lighttpd's TLS module; a C compiler for bench/tls_handshakes.c (cargo needs one too).
[[ -e /usr/lib/lighttpd/mod_openssl.so ]] || need+=(lighttpd-mod-openssl)
command -v cc >/dev/null || need+=(gcc)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# darkhttpd is not in every Debian release's archive: use it when it can be had.
command -v darkhttpd >/dev/null || apt-get -o DPkg::Lock::Timeout=300 install -y -qq darkhttpd >/dev/null 2>&1 || true

log "building release binaries"
cargo build --release --quiet --bin serve --bin fetch
SERVE=$ROOT/target/release/serve
FETCH=$ROOT/target/release/fetch

# 2000 idle TLS connections (issue 23) and 1024-connection runs need descriptors on both
# sides: at least 8192 (bench/tls_conns.py raises its own); a higher limit is left as it is.
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < 8192)); then
  hard=$(ulimit -Hn)
  ulimit -Sn "$([[ $hard == unlimited ]] || ((hard > 8192)) && echo 8192 || echo "$hard")" 2>/dev/null || true
fi

WORK=$(mktemp -d /tmp/serve-bench.XXXXXX)
chmod 755 "$WORK" # nginx's workers run as www-data and must read the docroot
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

DOC=$WORK/root
mkdir -p "$DOC/many"
head -c 1024 /dev/urandom >"$DOC/index.html"
head -c $((64 * 1024)) /dev/urandom >"$DOC/64k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$DOC/1m.bin"
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$DOC/big.bin"
for i in $(seq 1 "$SMALL_FILES"); do head -c 1024 /dev/urandom >"$DOC/many/$i.bin"; done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:$1/index.html" && return 0
    curl -sk -o /dev/null "https://127.0.0.1:$1/index.html" && return 0 # a TLS-only server
    sleep 0.05
  done
  log "server on port $1 did not come up"; return 1
}

declare -A PORT PID LABEL # LABEL: the name a row records (serve-x is serve with more options)
start() { # name port command...
  local name=$1 port=$2; shift 2
  "$@" >"$WORK/$name.out" 2>&1 &
  PID[$name]=$!; PIDS+=($!); PORT[$name]=$port
  wait_port "$port"
}

SERVERS=()
p=$(free_port); start serve "$p" "$SERVE" -p "$p" "$DOC"; SERVERS+=(serve)
p=$(free_port); start serve-q "$p" "$SERVE" -q -p "$p" "$DOC"; SERVERS+=(serve-q)
p=$(free_port)
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log $WORK/nginx-access.log;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  server { listen 127.0.0.1:$p backlog=1024; root $DOC; }
}
NGINX
start nginx "$p" nginx -c "$WORK/nginx.conf"; SERVERS+=(nginx)
p=$(free_port)
cat >"$WORK/lighttpd.conf" <<LIGHTTPD
server.document-root = "$DOC"
server.bind = "127.0.0.1"
server.port = $p
server.pid-file = "$WORK/lighttpd.pid"
server.errorlog = "$WORK/lighttpd-error.log"
server.max-keep-alive-requests = 1000000
LIGHTTPD
start lighttpd "$p" lighttpd -D -f "$WORK/lighttpd.conf"; SERVERS+=(lighttpd)
p=$(free_port)
# h2o as root drops privileges to nobody: no pid file in $WORK, the log only to stderr.
cat >"$WORK/h2o.conf" <<H2O
listen:
  host: 127.0.0.1
  port: $p
num-threads: 2
hosts:
  default:
    paths:
      /:
        file.dir: $DOC
H2O
start h2o "$p" h2o -c "$WORK/h2o.conf"; SERVERS+=(h2o)
# The near-limit reference: nginx answering from memory, no file I/O and no log.
p=$(free_port)
cat >"$WORK/nginx-return.conf" <<NGINX
worker_processes 2;
daemon off;
pid $WORK/nginx-return.pid;
error_log $WORK/nginx-return-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$p backlog=1024;
    root $DOC;
    location = /r { return 200 'x'; }
  }
}
NGINX
start nginx-return "$p" nginx -c "$WORK/nginx-return.conf"
if command -v darkhttpd >/dev/null; then
  p=$(free_port); start darkhttpd "$p" darkhttpd "$DOC" --addr 127.0.0.1 --port "$p"; SERVERS+=(darkhttpd)
else
  log "darkhttpd is not available here: left out"
fi
p=$(free_port); start python "$p" python3 -m http.server "$p" --bind 127.0.0.1 -d "$DOC"; SERVERS+=(python)
log "servers: ${SERVERS[*]} (and nginx-return, the near-limit reference)"

CSV=$WORK/raw.csv
echo "scenario,server,round,value,unit,p50_ms,p99_ms,errors" >"$CSV"
# Where each wrk run's server threads and wrk ran (issue 27: explaining bimodal rounds):
# seconds of CPU on each CPU, then each thread's milliseconds per CPU (bench/placement.py).
PLACE=$WORK/placement.csv
ncpu=$(nproc)
echo "scenario,server,round,$(for g in server wrk; do for ((i = 0; i < ncpu; i++)); do printf '%s_cpu%d_s,' $g $i; done; done)threads" >"$PLACE"

ms() { # wrk latency text (e.g. 1.23ms, 450.00us, 2.1s) to milliseconds
  python3 -c 'import sys,re
v=sys.argv[1]; m=re.match(r"([0-9.]+)(us|ms|s|m)?",v)
n=float(m.group(1)); u=m.group(2) or "ms"
print(round(n*{"us":0.001,"ms":1,"s":1000,"m":60000}[u],3))' "$1"
}

rss_kib() { # total VmRSS of a process and its children
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

passive_opens() { awk '/^Tcp:/ && $1=="Tcp:" {n++} n==2 {print $7; exit}' /proc/net/snmp; }

# tls_wrk: the words before `wrk` for a TLS new-connection run (TLS_MODE=full or resume, else
# none): bench/tls_handshakes.c preloaded, counting full and resumed handshakes into
# $WORK/tls-hs.txt and, for "full", making wrk offer no session ticket.
TLSHS=$WORK/tls_handshakes.so
tls_wrk() {
  [[ -n ${TLS_MODE:-} ]] || return 0
  rm -f "$WORK/tls-hs.txt"
  printf '%s\n' env LD_PRELOAD="$TLSHS" TLS_HANDSHAKES_OUT="$WORK/tls-hs.txt" \
    TLS_NO_RESUME=$([[ $TLS_MODE == full ]] && echo 1 || echo 0)
}
# tls_resumed: the share of the last TLS_MODE run's handshakes that were resumed (0.000-1.000),
# empty when wrk completed none.
tls_resumed() {
  local full resumed
  read -r full resumed <"$WORK/tls-hs.txt" 2>/dev/null || return 0
  python3 -c "print(round($resumed/max($full+$resumed,1),3))"
}
# tls_mode_ok SHARE: a full-handshake run must have resumed none (≤ 1%); a resumption run
# only needs its count (how many a server resumes is the server's doing: see issue 23 below).
tls_mode_ok() {
  python3 -c "import sys; s='$1'; sys.exit(0 if s and (float(s) <= 0.01 or '$TLS_MODE' == 'resume') else 1)"
}

# wrk_run scenario server conns path [pin] [-- extra wrk args...]
# Extra arguments stay an array, so `-H 'Connection: close'` reaches wrk as one header.
# With TLS_MODE set (full or resume) the run also records $scen-resumed, the share of its
# handshakes the server resumed, and is recorded as 0 when that is not what it says.
wrk_run() {
  local scen=$1 srv=$2 c=$3 path=$4 pin=${5:-}
  shift $(($# < 5 ? $# : 5)); [[ ${1:-} == -- ]] && shift
  local extra=("$@")
  local t=$((c < 2 ? 1 : 2))
  local pre; mapfile -t pre < <(tls_wrk)
  local cmd=("${pre[@]}" wrk -t"$t" -c"$c" -d"${SECS}s" --latency "${extra[@]}" "${SCHEME:-http}://127.0.0.1:${PORT[$srv]}$path")
  [[ -n $pin ]] && cmd=(taskset -c 1 "${cmd[@]}")
  local opens0; opens0=$(passive_opens)
  # bench/placement.py runs wrk and records where the server's threads and wrk's ran.
  local pids; pids=$(echo "${PID[$srv]}" $(pgrep -P "${PID[$srv]}" || true) | tr ' ' ,)
  local out; out=$(python3 "$ROOT/bench/placement.py" "$PLACE" "$scen" "${LABEL[$srv]:-$srv}" "$round" "$pids" -- "${cmd[@]}" 2>&1 || true)
  local opens=$(($(passive_opens) - opens0))
  local rps p50 p99 err total
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  total=$(awk '/requests in/{print $1}' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out"); p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  err=$(awk -F'[ ,]+' '/Socket errors/{print $4+$6+$8+$10}' <<<"$out"); err=${err:-0}
  local non2xx; non2xx=$(awk '/Non-2xx/{print $5}' <<<"$out"); err=$((err + ${non2xx:-0}))
  if [[ $scen == *close* ]]; then
    # A run that says "new connection per request" must have opened one per request.
    local per; per=$(python3 -c "print(round($opens/max(${total:-0},1),3))")
    echo "$scen-conns-per-request,${LABEL[$srv]:-$srv},$round,$per,conns/req,,," >>"$CSV"
    if ! python3 -c "import sys; sys.exit(0 if 0.9 <= $per <= 1.1 else 1)"; then
      log "WARNING: $scen on $srv opened $opens connections for ${total:-0} requests ($per per request): not a new-connection run; recorded as 0"
      rps=0
    fi
  fi
  if [[ -n ${TLS_MODE:-} ]]; then
    local share; share=$(tls_resumed)
    echo "$scen-resumed,${LABEL[$srv]:-$srv},$round,${share:-0},share,,," >>"$CSV"
    if ! tls_mode_ok "$share"; then
      log "WARNING: $scen on $srv: ${share:-no} share of handshakes resumed, not a $TLS_MODE-handshake run; recorded as 0"
      rps=0
    fi
  fi
  echo "$scen,${LABEL[$srv]:-$srv},$round,${rps:-0},req/s,$( [[ -n $p50 ]] && ms "$p50"),$( [[ -n $p99 ]] && ms "$p99"),$err" >>"$CSV"
}

pin_servers() { # pin every server (and its workers) to CPU 0, or unpin with "0,1"
  for srv in "${SERVERS[@]}"; do
    for pid in ${PID[$srv]} $(pgrep -P "${PID[$srv]}" || true); do taskset -a -p -c "$1" "$pid" >/dev/null 2>&1 || true; done
  done
}

# cost_run scenario server conns [-- extra wrk args...]: what one request costs the server,
# counted by the kernel while wrk runs (perf stat on the server's processes and threads): CPU
# time (its own and the kernel's TCP work in its system calls), system calls and context
# switches, each divided by the requests wrk completed. Rates move with the machine's noise;
# these counts barely do, so they say which server does less per request.
# SCHEME=https and TLS_MODE (see wrk_run) apply as they do to wrk_run; a TLS_MODE run whose
# handshakes were not what it says records nothing.
cost_run() {
  local scen=$1 srv=$2 c=$3; shift 3; [[ ${1:-} == -- ]] && shift
  local pids; pids=$(echo "${PID[$srv]}" $(pgrep -P "${PID[$srv]}" || true) | tr ' ' ,)
  local out pre; mapfile -t pre < <(tls_wrk)
  out=$(perf stat -x, -o "$WORK/perf.txt" -e task-clock,raw_syscalls:sys_enter,context-switches \
    -p "$pids" -- "${pre[@]}" wrk -t2 -c"$c" -d2s "$@" "${SCHEME:-http}://127.0.0.1:${PORT[$srv]}/index.html" 2>&1 || true)
  local total; total=$(awk '/requests in/{print $1}' <<<"$out")
  [[ -n $total && $total -gt 0 ]] || return 0
  if [[ -n ${TLS_MODE:-} ]]; then
    local share; share=$(tls_resumed)
    if ! tls_mode_ok "$share"; then
      log "WARNING: $scen on $srv: ${share:-no} share of handshakes resumed, not a $TLS_MODE-handshake run; not recorded"
      return 0
    fi
  fi
  awk -F, -v n="$total" -v s="$scen" -v srv="${LABEL[$srv]:-$srv}" -v r="$round" '
    $3 == "task-clock" { printf "%s-cpu,%s,%s,%.2f,us/req,,,\n", s, srv, r, $1 * 1000 / n }
    $3 == "raw_syscalls:sys_enter" { printf "%s-syscalls,%s,%s,%.2f,syscalls/req,,,\n", s, srv, r, $1 / n }
    $3 == "context-switches" { printf "%s-switches,%s,%s,%.3f,switches/req,,,\n", s, srv, r, $1 / n }
  ' "$WORK/perf.txt" >>"$CSV"
}
COST=0
if perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then COST=1; else log "perf cannot count system calls here: the cost rows are left out"; fi

for round in $(seq 1 "$ROUNDS"); do
  log "round $round/$ROUNDS"
  for c in "${CONNS[@]}"; do
    for srv in "${SERVERS[@]}"; do
      if [[ $c == 256 ]]; then
        wrk_run "keepalive-c$c" "$srv" "$c" /index.html "" &
        local_wrk=$!
        sleep "$((SECS / 2))"
        echo "rss-load,$srv,$round,$(rss_kib "${PID[$srv]}"),KiB,,," >>"$CSV"
        wait "$local_wrk"
      else
        wrk_run "keepalive-c$c" "$srv" "$c" /index.html
      fi
    done
    wrk_run "keepalive-c$c" nginx-return "$c" /r
  done
  for c in 16 64; do
    for srv in "${SERVERS[@]}"; do wrk_run "close-c$c" "$srv" "$c" /index.html "" -- -H 'Connection: close'; done
    wrk_run "close-c$c" nginx-return "$c" /r "" -- -H 'Connection: close'
  done
  for srv in "${SERVERS[@]}"; do wrk_run 64k-c16 "$srv" 16 /64k.bin; done
  for srv in "${SERVERS[@]}"; do wrk_run 1m-c16 "$srv" 16 /1m.bin; done
  # The VM pages out memory left untouched: read the big file once, untimed, first.
  cat "$DOC/big.bin" >/dev/null
  for srv in "${SERVERS[@]}"; do
    bps=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:${PORT[$srv]}/big.bin")
    echo "bigfile,$srv,$round,$(python3 -c "print(round($bps/1048576,1))"),MiB/s,,," >>"$CSV"
  done
  if ((COST)); then
    for srv in "${SERVERS[@]}"; do
      [[ $srv == python ]] && continue # a thousand times slower: its counts say nothing here
      cost_run cost-keepalive-c16 "$srv" 16
      cost_run cost-keepalive-c256 "$srv" 256
      cost_run cost-close-c64 "$srv" 64 -- -H 'Connection: close'
    done
  fi
  if ((!QUICK)); then
    pin_servers 0
    for srv in "${SERVERS[@]}"; do wrk_run pinned-keepalive-c64 "$srv" 64 /index.html pin; done
    for srv in "${SERVERS[@]}"; do wrk_run pinned-close-c64 "$srv" 64 /index.html pin -- -H 'Connection: close'; done
    for srv in "${SERVERS[@]}"; do wrk_run pinned-1m-c16 "$srv" 16 /1m.bin pin; done
    pin_servers 0,1
  fi
done
for srv in "${SERVERS[@]}"; do echo "rss-idle,$srv,0,$(rss_kib "${PID[$srv]}"),KiB,,," >>"$CSV"; done

time_cmd() { # scenario client command... ; records wall seconds and user+sys seconds, the
  # medians of TIMES runs (1 unless set), to the microsecond (bench/time_cmd.py)
  local scen=$1 client=$2; shift 2
  read -r wall cpu _ < <(python3 bench/time_cmd.py "${TIMES:-1}" "$@")
  echo "$scen-wall,$client,$round,$wall,s,,," >>"$CSV"
  echo "$scen-cpu,$client,$round,$cpu,s,,," >>"$CSV"
}

# --- issue 16: uploads, compression on the fly, folder downloads -------------------------------
# serve-x is serve with the features that are off by default (recorded as "serve"); nginx-x
# is nginx taking PUT (dav_methods) and compressing (gzip on), recorded as "nginx". Both start
# only now, so the rows above are untouched by them.
log "issue 16: upload, compression, folder download"
NX=$WORK/nginx-x
mkdir -p "$NX/root" "$NX/tmp"
chmod 777 "$NX/root" "$NX/tmp" # nginx's workers (www-data) write the uploads
# 64 KiB of text (words from a small vocabulary: compresses about as well as prose).
python3 -c 'import random,sys
r=random.Random(16); w=[ "".join(r.choice("etaoinshrdlucmfwyp") for _ in range(r.randint(2,9))) for _ in range(400)]
t=""
while len(t)<65536: t+=r.choice(w)+(" " if r.random()<0.9 else ".\n")
sys.stdout.write(t[:65536])' >"$DOC/64k.txt"
cp "$DOC/index.html" "$DOC/64k.txt" "$NX/root/"
# A folder as big as the big file, in 16 files.
mkdir -p "$DOC/folder"
for i in $(seq 1 16); do head -c $((BIG_MB * 1024 * 1024 / 16)) /dev/urandom >"$DOC/folder/$i.bin"; done
p=$(free_port); LABEL[serve-x]=serve
start serve-x "$p" "$SERVE" --upload --overwrite --compress --archive -p "$p" "$DOC"
p=$(free_port); LABEL[nginx-x]=nginx
cat >"$WORK/nginx-x.conf" <<NGINX
worker_processes 2;
daemon off;
pid $WORK/nginx-x.pid;
error_log $WORK/nginx-x-error.log;
events { worker_connections 8192; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log $WORK/nginx-x-access.log;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  gzip on; gzip_types text/plain; gzip_min_length 1024;
  client_max_body_size 0;
  client_body_temp_path $NX/tmp; # the same file system as the root: the final rename is free
  server { listen 127.0.0.1:$p backlog=1024; root $NX/root; dav_methods PUT; }
}
NGINX
start nginx-x "$p" nginx -c "$WORK/nginx-x.conf"

# upload SERVER DEST_DIR: PUT the big file with curl -T, sampling the server's RSS meanwhile.
upload() {
  local srv=$1 dest=$2 name="up-$round.bin" peak=0 kib
  curl -s -T "$DOC/big.bin" -o /dev/null -w '%{http_code} %{speed_upload}' \
    "http://127.0.0.1:${PORT[$srv]}/$name" >"$WORK/up.txt" 2>&1 &
  local cpid=$!
  while kill -0 "$cpid" 2>/dev/null; do
    kib=$(rss_kib "${PID[$srv]}"); ((kib > peak)) && peak=$kib
    sleep 0.02
  done
  wait "$cpid" || true
  local code bps size
  read -r code bps <"$WORK/up.txt" || true # curl -w ends with no newline
  size=$(stat -c %s "$dest/$name" 2>/dev/null || echo 0)
  if [[ $code != 20[14] || $size != $((BIG_MB * 1024 * 1024)) ]]; then
    log "WARNING: upload to $srv answered ${code:-nothing} and left $size bytes: recorded as 0"
    bps=0
  fi
  echo "upload-put,${LABEL[$srv]},$round,$(python3 -c "print(round(${bps:-0}/1048576,1))"),MiB/s,,," >>"$CSV"
  echo "rss-upload,${LABEL[$srv]},$round,$peak,KiB,,," >>"$CSV"
  rm -f "$dest/$name"
}

# put_big CLIENT COMMAND...: issue 15's row, the big file PUT to nginx (dav_methods) by each
# client, timed (wall and CPU); a PUT that did not leave the whole file is recorded as 0.
put_big() {
  local client=$1; shift
  time_cmd put-big "$client" "$@"
  local size; size=$(stat -c %s "$NX/root/put.bin" 2>/dev/null || echo 0)
  if [[ $size != $((BIG_MB * 1024 * 1024)) ]]; then
    log "WARNING: $client's PUT left $size bytes: recorded as 0"
    sed -i "\$d" "$CSV"; sed -i "\$d" "$CSV"
    echo "put-big-wall,$client,$round,0,s,,," >>"$CSV"; echo "put-big-cpu,$client,$round,0,s,,," >>"$CSV"
  fi
  rm -f "$NX/root/put.bin"
}

for round in $(seq 1 "$ROUNDS"); do
  cat "$DOC/big.bin" >/dev/null
  upload serve-x "$DOC"
  upload nginx-x "$NX/root"
  # Issue 15: fetch -T (sendfile) against curl -T, the same file to the same nginx.
  put_big fetch "$FETCH" -s -o /dev/null -T "$DOC/big.bin" "http://127.0.0.1:${PORT[nginx-x]}/put.bin"
  put_big curl curl -s -o /dev/null -T "$DOC/big.bin" "http://127.0.0.1:${PORT[nginx-x]}/put.bin"
  for srv in serve-x nginx-x; do
    # The check that the timed run measures what it says: a gzip body, smaller than the file.
    hdr=$(curl -s -D - -o "$WORK/gz.body" -H 'Accept-Encoding: gzip' "http://127.0.0.1:${PORT[$srv]}/64k.txt" | tr -d '\r')
    gz=0; grep -qi '^content-encoding: gzip$' <<<"$hdr" && gunzip -c "$WORK/gz.body" | cmp -s - "$DOC/64k.txt" && gz=1
    echo "64k-text-gzip-c16-is-gzip,${LABEL[$srv]},$round,$gz,yes=1,,," >>"$CSV"
    log "64k.txt from $srv with Accept-Encoding: gzip: $(stat -c %s "$WORK/gz.body") bytes, gzip=$gz"
    if ((gz)); then
      wrk_run 64k-text-gzip-c16 "$srv" 16 /64k.txt "" -- -H 'Accept-Encoding: gzip'
    else
      log "WARNING: $srv did not answer 64k.txt with a gzip body: recorded as 0"
      echo "64k-text-gzip-c16,${LABEL[$srv]},$round,0,req/s,,," >>"$CSV"
    fi
  done
  # A folder as one tar stream against the single file of the same size, from the same serve.
  cat "$DOC/big.bin" "$DOC"/folder/*.bin >/dev/null
  read -r code fbps < <(curl -s -o /dev/null -w '%{http_code} %{speed_download}' "http://127.0.0.1:${PORT[serve-x]}/big.bin") || true
  read -r code tbps tsize < <(curl -s -o /dev/null -w '%{http_code} %{speed_download} %{size_download}' "http://127.0.0.1:${PORT[serve-x]}/folder/?download=tar") || true
  if [[ $code != 200 ]] || ((${tsize:-0} < BIG_MB * 1024 * 1024)); then
    log "WARNING: the folder's tar answered $code with $tsize bytes: recorded as 0"; tbps=0
  fi
  echo "folder-tar-file,serve,$round,$(python3 -c "print(round(${fbps:-0}/1048576,1))"),MiB/s,,," >>"$CSV"
  echo "folder-tar,serve,$round,$(python3 -c "print(round(${tbps:-0}/1048576,1))"),MiB/s,,," >>"$CSV"
  echo "folder-tar-ratio,serve,$round,$(python3 -c "print(round(${tbps:-0}/max(${fbps:-0},1),3))"),tar÷file,,," >>"$CSV"
done
kill "${PID[serve-x]}" "${PID[nginx-x]}" 2>/dev/null || true
wait "${PID[serve-x]}" "${PID[nginx-x]}" 2>/dev/null || true
rm -rf "$DOC/folder" "$NX"

# --- issue 18: the cost of --watch on the 1 KiB keep-alive rows --------------------------------
# serve-watch is serve -q --watch on the same folder: /index.html (1 KiB, HTML by its name)
# gets the reload script (1.45 KiB sent), /many/1.bin (1 KiB) does not. Recorded beside
# serve-q's figures for the same paths; report.py turns them into ratios.
log "issue 18: --watch on the keep-alive rows"
p=$(free_port); start serve-watch "$p" "$SERVE" -q --watch -p "$p" "$DOC"
for round in $(seq 1 "$ROUNDS"); do
  for c in 16 256; do
    for srv in serve-q serve-watch; do
      wrk_run "watch-keepalive-html-c$c" "$srv" "$c" /index.html
      wrk_run "watch-keepalive-bin-c$c" "$srv" "$c" /many/1.bin
    done
  done
done
kill "${PID[serve-watch]}" 2>/dev/null || true
wait "${PID[serve-watch]}" 2>/dev/null || true

# --- clients ---------------------------------------------------------------------------------
log "clients"
BIGURL="http://127.0.0.1:${PORT[nginx]}/big.bin"
cat "$DOC/big.bin" >/dev/null
# Many small files come from serve (-q), the big file from nginx: the same server for every client.
seq 1 "$SMALL_FILES" | sed "s|.*|http://127.0.0.1:${PORT[serve-q]}/many/&.bin|" >"$WORK/urls.txt"
PAR=0; "$FETCH" --help 2>/dev/null | grep -q -- '--parallel' && PAR=1
# Issue 15: start to finish for a tiny file (hyperfine, no shell): the mean in ms per client.
TINYURL="http://127.0.0.1:${PORT[nginx]}/index.html"
tiny() { # client command...
  local client=$1; shift
  hyperfine -N --warmup 20 --runs "$TINY_RUNS" --export-json "$WORK/tiny.json" "$*" >/dev/null 2>&1 || true
  echo "${TINY_SCEN:-tiny-startup}-wall,$client,$round,$(python3 -c "import json;print(round(json.load(open('$WORK/tiny.json'))['results'][0]['mean']*1000,3))" 2>/dev/null || echo 0),ms,,," >>"$CSV"
}
TINY_RUNS=500; ((QUICK)) && TINY_RUNS=200
for round in $(seq 1 "$ROUNDS"); do
  tiny fetch "$FETCH" -s "$TINYURL"
  tiny curl curl -s "$TINYURL"
  time_cmd get-big fetch "$FETCH" -s -o /dev/null "$BIGURL"
  time_cmd get-big curl curl -s -o /dev/null "$BIGURL"
  time_cmd get-big wget wget -q -O /dev/null "$BIGURL"
  if ((PAR)); then
    TIMES=9 time_cmd many-small fetch "$FETCH" -s -Z --parallel-max 8 --input "$WORK/urls.txt"
  fi
  # curl needs one -o per URL to discard each body.
  xargs -a "$WORK/urls.txt" printf -- '-o /dev/null %s\n' | tr '\n' ' ' >"$WORK/curl-args.txt"
  TIMES=9 time_cmd many-small curl-parallel sh -c "curl -s --parallel --parallel-max 8 $(cat "$WORK/curl-args.txt")"
  time_cmd many-small xargs-curl sh -c "xargs -P 8 -n 1 curl -s -o /dev/null <'$WORK/urls.txt'"
done
((PAR)) || log "fetch has no --parallel yet: the many-small fetch row is left out"

# --- issue 22: fetch over https:// against curl -------------------------------------------------
# nginx-tls is nginx with TLS 1.3 only, session tickets on and an ECDSA P-256 certificate made
# here, serving the same folder. Rows (fetch and curl, both trusting the certificate with
# --cacert): tls-tiny-startup-wall (hyperfine mean, handshake included), tls-get-big (wall and
# CPU for the big file) and tls-many-small (the small files at 8 at a time: fetch -Z against
# curl --parallel).
log "issue 22: https"
TLSD=$WORK/tls
mkdir -p "$TLSD"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$TLSD/key.pem" -out "$TLSD/cert.pem" 2>/dev/null
p=$(free_port); LABEL[nginx-tls]=nginx
cat >"$WORK/nginx-tls.conf" <<NGINX
worker_processes 2;
daemon off;
pid $WORK/nginx-tls.pid;
error_log $WORK/nginx-tls-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on; keepalive_requests 1000000;
  ssl_protocols TLSv1.3; ssl_session_tickets on;
  server {
    listen 127.0.0.1:$p ssl backlog=1024;
    ssl_certificate $TLSD/cert.pem; ssl_certificate_key $TLSD/key.pem;
    root $DOC;
  }
}
NGINX
start nginx-tls "$p" nginx -c "$WORK/nginx-tls.conf" # wait_port's plain request gets a 400
TLSURL="https://localhost:${PORT[nginx-tls]}"
sed "s|http://127.0.0.1:${PORT[serve-q]}|$TLSURL|" "$WORK/urls.txt" >"$WORK/tls-urls.txt"
xargs -a "$WORK/tls-urls.txt" printf -- '-o /dev/null %s\n' | tr '\n' ' ' >"$WORK/tls-curl-args.txt"
CA=(--cacert "$TLSD/cert.pem")
for round in $(seq 1 "$ROUNDS"); do
  TINYURL="$TLSURL/index.html"
  TINY_SCEN=tls-tiny-startup tiny fetch "$FETCH" -s "${CA[@]}" "$TINYURL"
  TINY_SCEN=tls-tiny-startup tiny curl curl -s "${CA[@]}" "$TINYURL"
  time_cmd tls-get-big fetch "$FETCH" -s "${CA[@]}" -o /dev/null "$TLSURL/big.bin"
  time_cmd tls-get-big curl curl -s "${CA[@]}" -o /dev/null "$TLSURL/big.bin"
  if ((PAR)); then
    TIMES=9 time_cmd tls-many-small fetch "$FETCH" -s -Z --parallel-max 8 "${CA[@]}" --input "$WORK/tls-urls.txt"
  fi
  TIMES=9 time_cmd tls-many-small curl-parallel sh -c "curl -s --parallel --parallel-max 8 ${CA[*]} $(cat "$WORK/tls-curl-args.txt")"
done
# --- issue 23: serve over https:// against nginx, h2o and lighttpd ------------------------------
# Every server speaks TLS 1.3 only (serve, which also takes 1.2, is checked to negotiate 1.3),
# with the ECDSA P-256 certificate made above, session tickets on, configured as its plain-HTTP
# counterpart above: serve-tls is serve -q --tls-cert; nginx-tls (issue 22's; 2 workers); h2o-tls
# (2 threads, file.dir, no log); lighttpd-tls (lighttpd-mod-openssl). Recorded under the peers'
# names. For the 2000 idle connections, each may hold up to 8192 connections and keeps an idle
# one for 60 s (serve --keep-alive-timeout 60, lighttpd max-keep-alive-idle, h2o
# http1-request-timeout; nginx's keepalive_timeout is 75 s already).
#   tls-probe-is-tls13, tls-probe-resumes-ticket, tls-probe-renews-ticket  checks (1 = yes):
#                        a default OpenSSL client negotiates TLS 1.3; the server resumes the
#                        session of its ticket; and sends a new ticket on a resumed connection
#   tls-keepalive-c16/c256  1 KiB on kept connections (rss-tls-load: total RSS mid-run at 256)
#   tls-close-c16          a new connection per request with a full handshake: wrk would offer
#                          its last session's ticket on each (SSL_clear keeps it), so
#                          bench/tls_handshakes.c makes it offer none; -resumed must be 0.00
#   tls-close-resume-c16   the same with wrk's own resumption, a returning client: OpenSSL offers
#                          each ticket once (RFC 8446 C.4), so a server that sends no new ticket
#                          on a resumed connection makes every other one a full handshake
#                          (-resumed ≈ 0.5, else ≈ 1.00)
#   tls-1m-c16, tls-bigfile  1 MiB at 16 connections; one download of the big file (curl)
#   cost-tls-keepalive-c16, cost-tls-close-c16  cost_run's counts per request (full handshakes)
#   rss-tls-idle, rss-tls-idle2000  total RSS idle after the rows above, then holding 2000 idle
#                          TLS connections, each after a full handshake and one request
#                          (bench/tls_conns.py); tls-idle2000-held: how many the server still
#                          held. Once, in the last round.
log "issue 23: servers over https"
cc -O2 -shared -fPIC -o "$TLSHS" bench/tls_handshakes.c -ldl
p=$(free_port); LABEL[serve-tls]=serve
start serve-tls "$p" "$SERVE" -q --tls-cert "$TLSD/cert.pem" --tls-key "$TLSD/key.pem" --keep-alive-timeout 60 -p "$p" "$DOC"
p=$(free_port); LABEL[h2o-tls]=h2o
cat >"$WORK/h2o-tls.conf" <<H2O
listen:
  host: 127.0.0.1
  port: $p
  ssl:
    certificate-file: $TLSD/cert.pem
    key-file: $TLSD/key.pem
    minimum-version: TLSv1.3
    ocsp-update-interval: 0
num-threads: 2
max-connections: 8192
http1-request-timeout: 60
hosts:
  default:
    paths:
      /:
        file.dir: $DOC
H2O
start h2o-tls "$p" h2o -c "$WORK/h2o-tls.conf"
p=$(free_port); LABEL[lighttpd-tls]=lighttpd
cat >"$WORK/lighttpd-tls.conf" <<LIGHTTPD
server.modules += ("mod_openssl")
server.document-root = "$DOC"
server.bind = "127.0.0.1"
server.port = $p
server.pid-file = "$WORK/lighttpd-tls.pid"
server.errorlog = "$WORK/lighttpd-tls-error.log"
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 60
server.max-fds = 16384
server.max-connections = 8192
ssl.engine = "enable"
ssl.pemfile = "$TLSD/cert.pem"
ssl.privkey = "$TLSD/key.pem"
ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.3")
LIGHTTPD
start lighttpd-tls "$p" lighttpd -D -f "$WORK/lighttpd-tls.conf"
TLS_SERVERS=(serve-tls nginx-tls h2o-tls lighttpd-tls)
for srv in "${TLS_SERVERS[@]}"; do
  read -r version cipher resumed renewed < <(python3 bench/tls_conns.py probe "${PORT[$srv]}" || true)
  log "$srv: ${version:-no answer} ${cipher:-}; ticket resumed: ${resumed:-?}, new ticket on resumption: ${renewed:-?}"
  echo "tls-probe-is-tls13,${LABEL[$srv]},0,$([[ ${version:-} == TLSv1.3 ]] && echo 1 || echo 0),yes=1,,," >>"$CSV"
  echo "tls-probe-resumes-ticket,${LABEL[$srv]},0,${resumed:-0},yes=1,,," >>"$CSV"
  echo "tls-probe-renews-ticket,${LABEL[$srv]},0,${renewed:-0},yes=1,,," >>"$CSV"
done
IDLE_CONNS=2000
for round in $(seq 1 "$ROUNDS"); do
  for srv in "${TLS_SERVERS[@]}"; do SCHEME=https wrk_run tls-keepalive-c16 "$srv" 16 /index.html; done
  for srv in "${TLS_SERVERS[@]}"; do
    SCHEME=https wrk_run tls-keepalive-c256 "$srv" 256 /index.html &
    tls_wrk_pid=$!
    sleep "$((SECS / 2))"
    echo "rss-tls-load,${LABEL[$srv]},$round,$(rss_kib "${PID[$srv]}"),KiB,,," >>"$CSV"
    wait "$tls_wrk_pid"
  done
  for srv in "${TLS_SERVERS[@]}"; do
    TLS_MODE=full SCHEME=https wrk_run tls-close-c16 "$srv" 16 /index.html "" -- -H 'Connection: close'
  done
  for srv in "${TLS_SERVERS[@]}"; do
    TLS_MODE=resume SCHEME=https wrk_run tls-close-resume-c16 "$srv" 16 /index.html "" -- -H 'Connection: close'
  done
  for srv in "${TLS_SERVERS[@]}"; do SCHEME=https wrk_run tls-1m-c16 "$srv" 16 /1m.bin; done
  cat "$DOC/big.bin" >/dev/null # paged out since the plain rows, perhaps
  for srv in "${TLS_SERVERS[@]}"; do
    read -r code size bps < <(curl -sk -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' \
      "https://127.0.0.1:${PORT[$srv]}/big.bin") || true
    if [[ ${code:-} != 200 || ${size:-0} != $((BIG_MB * 1024 * 1024)) ]]; then
      log "WARNING: big.bin over TLS from $srv answered ${code:-nothing} with ${size:-0} bytes: recorded as 0"; bps=0
    fi
    echo "tls-bigfile,${LABEL[$srv]},$round,$(python3 -c "print(round(${bps:-0}/1048576,1))"),MiB/s,,," >>"$CSV"
  done
  if ((COST)); then
    for srv in "${TLS_SERVERS[@]}"; do
      SCHEME=https cost_run cost-tls-keepalive-c16 "$srv" 16
      TLS_MODE=full SCHEME=https cost_run cost-tls-close-c16 "$srv" 16 -- -H 'Connection: close'
    done
  fi
  # Memory with idle connections moves by a few per cent from run to run: once, in the last round.
  ((round == ROUNDS)) || continue
  for srv in "${TLS_SERVERS[@]}"; do
    read -r before rss held secs < <(python3 bench/tls_conns.py idle "${PORT[$srv]}" "$IDLE_CONNS" "${PID[$srv]}" || true)
    log "$srv: $IDLE_CONNS idle TLS connections opened in ${secs:-?} s, ${held:-0} still held; RSS ${before:-?} → ${rss:-?} KiB"
    echo "rss-tls-idle,${LABEL[$srv]},$round,${before:-0},KiB,,," >>"$CSV"
    echo "tls-idle$IDLE_CONNS-held,${LABEL[$srv]},$round,${held:-0},conns,,," >>"$CSV"
    if [[ ${held:-0} != "$IDLE_CONNS" ]]; then
      log "WARNING: $srv held ${held:-0} of $IDLE_CONNS idle TLS connections: rss-tls-idle$IDLE_CONNS recorded as 0"; rss=0
    fi
    echo "rss-tls-idle$IDLE_CONNS,${LABEL[$srv]},$round,${rss:-0},KiB,,," >>"$CSV"
  done
done
for srv in "${TLS_SERVERS[@]}"; do kill "${PID[$srv]}" 2>/dev/null || true; done

# --- issue 18: Repr-Digest (serve --digest, fetch's check) --------------------------------------
# serve-d is serve -q --digest (recorded as "serve"), against serve-q in the same round. Each
# round gives big.bin a new version (touch: a new mtime, the same bytes), so the first request
# finds no digest: it starts the background hash and is sent meanwhile (bigfile-digest-first);
# once a HEAD shows Repr-Digest, the next is sent with it (bigfile-digest). fetch downloads from
# serve-d checking the sha-256 (get-big-digest) and with the digest turned off by
# `Want-Repr-Digest: sha-256=0` (get-big-nodigest): the same server, the cost of the check.
log "issue 18: --digest"
p=$(free_port); LABEL[serve-d]=serve
start serve-d "$p" "$SERVE" -q --digest -p "$p" "$DOC"
DURL="http://127.0.0.1:${PORT[serve-d]}/big.bin"
mib() { python3 -c "print(round(${1:-0}/1048576,1))"; }
for round in $(seq 1 "$ROUNDS"); do
  touch "$DOC/big.bin"
  cat "$DOC/big.bin" >/dev/null
  bps=$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:${PORT[serve-q]}/big.bin")
  echo "bigfile-plain,serve,$round,$(mib "$bps"),MiB/s,,," >>"$CSV"
  bps=$(curl -s -o /dev/null -w '%{speed_download}' "$DURL")
  echo "bigfile-digest-first,serve,$round,$(mib "$bps"),MiB/s,,," >>"$CSV"
  known=0
  for _ in $(seq 1 600); do # at most a minute
    curl -s -I "$DURL" | grep -qi '^repr-digest:' && { known=1; break; }
    sleep 0.1
  done
  if ((known)); then
    bps=$(curl -s -o /dev/null -w '%{speed_download}' "$DURL")
  else
    log "WARNING: serve --digest never sent big.bin's Repr-Digest: recorded as 0"; bps=0
  fi
  echo "bigfile-digest,serve,$round,$(mib "$bps"),MiB/s,,," >>"$CSV"
  time_cmd get-big-digest fetch "$FETCH" -s -o /dev/null "$DURL"
  time_cmd get-big-nodigest fetch "$FETCH" -s -o /dev/null -H 'Want-Repr-Digest: sha-256=0' "$DURL"
done
kill "${PID[serve-d]}" 2>/dev/null || true

# Issue 17's rows: fetch --mirror against wget on a generated 2000-file site (bench/mirror.sh,
# which also runs alone).
log "mirror"
MIRROR_FROM_RUN=1
# shellcheck source=bench/mirror.sh
source bench/mirror.sh

STAMP=$(date -u +%Y-%m-%dT%H%MZ)
cp "$CSV" "bench/results/$STAMP.csv"
cp "$CSV" bench/results/latest.csv
cp "$PLACE" "bench/results/$STAMP-placement.csv"
python3 bench/report.py bench/results/latest.csv "$QUICK" >bench/results/latest.md
log "raw figures: bench/results/$STAMP.csv; table: bench/results/latest.md; chart: bench/results/chart.svg"
cat bench/results/latest.md

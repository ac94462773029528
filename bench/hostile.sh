#!/usr/bin/env bash
# The long slow-client runs of issue 9, bounded in time (about 4 minutes in all):
#   1. tests/hostile/slow.rs at full scale (HOSTILE_SCALE=full): 1000 slowloris connections
#      dripping a header byte every 3 s, 200 slow readers, 2000 idle keep-alive connections,
#      each for 30 s while a normal client measures success rate and latency, and serve's
#      threads and RSS are sampled;
#   2. slowhttptest (Debian package) in its three modes against a release `serve`, 30 s each.
# Loopback only. Every load stops by itself; the serve started here is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 8192

echo "== slow.rs at full scale"
HOSTILE_SCALE=full timeout 600 cargo test --release --test e2e hostile::slow -- --nocapture --test-threads 1 2>&1 \
  | grep -oE '(slowloris|slow readers|idle keep-alive) x[0-9]+: .*|test result: .*'

if ! command -v slowhttptest >/dev/null; then
  echo "slowhttptest not installed (apt-get install slowhttptest): skipped"
  exit 0
fi
cargo build --release --quiet --bin serve
site=$(mktemp -d)
head -c 10485760 /dev/zero > "$site/big.bin"
echo hello > "$site/index.html"
"$CARGO_TARGET_DIR/release/serve" -p 0 -q "$site" > "$site/serve.out" 2>"$site/serve.err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$site"' EXIT
for _ in $(seq 100); do grep -q serving "$site/serve.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/.* at //p' "$site/serve.out" | head -1)
probe() { # a normal request during the attack: status and seconds
  curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}s' "${url}index.html" || echo "failed"
}
for mode in "-H" "-B" "-X"; do
  echo "== slowhttptest $mode (1000 connections, 30 s)"
  extra=()
  [[ $mode == -X ]] && extra=(-k 2 -n 5 -w 10 -y 20 -z 32)
  timeout 60 slowhttptest $mode -c 1000 -r 200 -i 3 -l 30 -x 24 -p 3 -s 8192 \
    -u "${url}big.bin" "${extra[@]}" > "$site/slow.log" 2>&1 &
  attack=$!
  sleep 10
  echo "  normal requests during the attack: $(probe), $(probe), $(probe)"
  echo "  serve: $(grep -E '^(Threads|VmRSS)' /proc/$pid/status | tr -s ' \t' ' ' | tr '\n' ' ')"
  wait "$attack" || true
  grep -E 'service available|exit status|closed|pending|connected' "$site/slow.log" | tail -4 | sed 's/^/  /'
done
echo "  serve stderr lines: $(wc -l < "$site/serve.err")"

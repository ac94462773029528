#!/usr/bin/env bash
# Issue 23's sweep of serve's TLS batch (engine/send.rs TLS_READ = engine/tls.rs SEALED_LIMIT,
# 256 KiB in the code): builds serve at 64, 128, 256, 512 and 1024 KiB (the two constants
# patched, then restored), and for each, three rounds of: one download of a 512 MiB file by
# curl (speed, and serve's CPU and system calls for it by perf stat) and wrk on a 1 MiB file
# at 16 connections for 3 s. Prints CSV: round,kib,bytes_per_s,serve_cpu_ms,serve_syscalls,
# rps_1m. Loopback only; takes about 8 minutes. BENCHMARKS.md has the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/tls-sweep.XXXXXX)
SP=
cleanup() {
  [[ -n $SP ]] && kill "$SP" 2>/dev/null || true
  git -C "$ROOT" checkout -q -- server/src/engine/send.rs server/src/engine/tls.rs
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/doc"
head -c 512M /dev/zero >"$WORK/doc/big.bin"
head -c 1M /dev/urandom >"$WORK/doc/1m.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
SIZES=(64 128 256 512 1024)
for kb in "${SIZES[@]}"; do
  git checkout -q -- server/src/engine/send.rs server/src/engine/tls.rs
  sed -i "s/^const TLS_READ: usize = 256 \* 1024;/const TLS_READ: usize = $kb * 1024;/" server/src/engine/send.rs
  sed -i "s/^pub(crate) const SEALED_LIMIT: usize = 256 \* 1024;/pub(crate) const SEALED_LIMIT: usize = $kb * 1024;/" server/src/engine/tls.rs
  grep -q "TLS_READ: usize = $kb \* 1024" server/src/engine/send.rs
  grep -q "SEALED_LIMIT: usize = $kb \* 1024" server/src/engine/tls.rs
  cargo build --release --quiet --bin serve
  cp target/release/serve "$WORK/serve-$kb"
done
git checkout -q -- server/src/engine/send.rs server/src/engine/tls.rs
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "round,kib,bytes_per_s,serve_cpu_ms,serve_syscalls,rps_1m"
for round in 1 2 3; do
  for kb in "${SIZES[@]}"; do
    "$WORK/serve-$kb" -q --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" -p "$PORT" "$WORK/doc" \
      >/dev/null 2>&1 &
    SP=$!
    for _ in $(seq 100); do curl -skf -o /dev/null "https://127.0.0.1:$PORT/1m.bin" && break; sleep 0.05; done
    speed=$(perf stat -e task-clock,raw_syscalls:sys_enter -p "$SP" -o "$WORK/stat.txt" -- \
      curl -sk -o /dev/null -w '%{speed_download}' "https://127.0.0.1:$PORT/big.bin")
    cpu=$(awk '/task-clock/{print $1}' "$WORK/stat.txt")
    calls=$(awk '/sys_enter/{gsub(",","",$1); print $1}' "$WORK/stat.txt")
    rps=$(wrk -t2 -c16 -d3 "https://127.0.0.1:$PORT/1m.bin" | awk '/Requests\/sec/{print $2}')
    echo "$round,$kb,$speed,$cpu,$calls,$rps"
    kill "$SP"; wait "$SP" 2>/dev/null || true; SP=
  done
done

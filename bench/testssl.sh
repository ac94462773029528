#!/usr/bin/env bash
# testssl.sh against `serve --tls-cert` on loopback (issue 23): one scan with an ECDSA P-256
# certificate and one with an RSA-2048 certificate, both from a throwaway CA made here (given
# to testssl with --add-ca, valid 90 days, a CRL distribution point on loopback that is never
# fetched), so the certificate findings are about a certificate like a real one and the rest
# about serve's TLS configuration (shared/src/tls.rs, server_config).
#
# Prints, per certificate, the protocols offered, the count of findings by severity and every
# finding of severity LOW or above; the full output goes to target/testssl/. Not a test that
# CI runs: each scan takes two to three minutes. The README's serve HTTPS section summarises
# the last run.
#
#   bench/testssl.sh                              release build of serve (built here)
#   SERVE=target/debug/serve bench/testssl.sh     another build
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf 'testssl: %s\n' "$*" >&2; }

if ! command -v testssl >/dev/null; then
  log "installing testssl.sh (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq testssl.sh >/dev/null
fi

if [[ -z ${SERVE:-} ]]; then
  log "building the release serve"
  cargo build --release --quiet --bin serve
  SERVE=$ROOT/target/release/serve
fi
SERVE=$(realpath "$SERVE")

OUT=$ROOT/target/testssl
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/serve-testssl.XXXXXX)
PID=
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The CA and the two server certificates.
cd "$WORK"
mkdir site
echo '<!doctype html><title>testssl</title><p>hello' >site/index.html
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=serve testssl CA" -keyout ca.key -out ca.pem 2>/dev/null
cat >leaf.ext <<'EXT'
subjectAltName = DNS:localhost, IP:127.0.0.1
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
crlDistributionPoints = URI:http://127.0.0.1/ca.crl
EXT
leaf() { # NAME, then openssl's -newkey arguments
  local name=$1
  shift
  openssl req -new -nodes "$@" -subj /CN=localhost -keyout "$name.key" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
    -days 90 -extfile leaf.ext -out "$name.pem" 2>/dev/null
}
leaf ecdsa -newkey ec -pkeyopt ec_paramgen_curve:P-256
leaf rsa -newkey rsa:2048

log "testssl $(testssl --version 2>/dev/null | sed -n 's/.*testssl  *\([0-9][0-9.]*\).*/\1/p' | head -1), $(openssl version)"
for kind in ecdsa rsa; do
  "$SERVE" -p 0 -q --tls-cert "$kind.pem" --tls-key "$kind.key" site >"serve-$kind.out" 2>&1 &
  PID=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's|^serving .* at https://127.0.0.1:\([0-9]*\)/$|\1|p' "serve-$kind.out")
    [[ -n $port ]] && break
    kill -0 "$PID" 2>/dev/null || { cat "serve-$kind.out" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n $port ]] || { log "serve printed no port"; exit 1; }
  log "scanning serve with the $kind certificate on 127.0.0.1:$port"
  rm -f "$OUT/$kind.log" "$OUT/$kind.json"
  testssl --quiet --color 0 --warnings off --add-ca "$WORK/ca.pem" \
    --logfile "$OUT/$kind.log" --jsonfile "$OUT/$kind.json" "127.0.0.1:$port" >/dev/null ||
    true # its exit status counts findings; they are read from the JSON below
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
  python3 - "$kind" "$OUT/$kind.json" <<'PY'
import collections, json, sys
kind, path = sys.argv[1], sys.argv[2]
findings = json.load(open(path))
by_id = {f["id"]: f["finding"] for f in findings}
protocols = [p for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")
             if by_id.get(p, "").startswith("offered")]
counts = collections.Counter(f["severity"] for f in findings)
order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "WARN", "OK", "INFO"]
print(f"== {kind}: protocols offered: {' '.join(protocols)}; PFS: {by_id.get('PFS', '?')}")
print("   " + ", ".join(f"{s} {counts[s]}" for s in order if counts[s]))
for f in findings:
    if f["severity"] in order[:4]:
        print(f"   {f['severity']:8} {f['id']}: {f['finding']}")
PY
done
log "full output in $OUT"

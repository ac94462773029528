#!/usr/bin/env bash
# Issue 17's rows: a generated 2000-file site (20 folders of 100 files: pages that link to
# their neighbours and a style sheet, style sheets, text, binary "images"; no index.html, so
# each folder is walked by its listing) served by serve -q, mirrored by fetch and by wget:
#   mirror-first-wall     fetch --mirror -Z   vs wget -r -np -l inf           (empty folder)
#   mirror-second-wall    the same again, nothing changed:
#                         fetch --mirror -Z   vs wget -r -np -l inf -N --no-if-modified-since
#   rss-mirror-first      fetch's peak RSS on the first run (KiB, /usr/bin/time %M)
#   rss-mirror-second     and on the second
# Each round starts from empty folders; both copies are compared (same files, same bytes)
# once, so a row never times a mirror that took less than the site.
#
#   bench/mirror.sh [--quick]            alone: prints the rows and the ratios to the targets
#   (bench/run.sh sources it with CSV, WORK, SERVE, FETCH, ROUNDS and round already set)
set -euo pipefail

if [[ -z ${MIRROR_FROM_RUN:-} ]]; then
  cd "$(dirname "$0")/.."
  ROOT=$PWD
  ROUNDS=3
  [[ ${1:-} == --quick ]] && ROUNDS=1
  cargo build --release --quiet --bin serve --bin fetch
  SERVE=$ROOT/target/release/serve
  FETCH=$ROOT/target/release/fetch
  WORK=$(mktemp -d /tmp/mirror-bench.XXXXXX)
  CSV=$WORK/raw.csv
  echo "scenario,server,round,value,unit,p50_ms,p99_ms,errors" >"$CSV"
  trap 'kill "${MPID:-}" "${RPID:-}" "${NPID:-}" 2>/dev/null || true; rm -rf "$WORK" "${COPIES:-}"' EXIT
  ALONE=1
else
  ALONE=0
fi
command -v wget >/dev/null && [[ -x /usr/bin/time ]] || {
  echo "bench: mirror rows need wget and /usr/bin/time" >&2
  exit 1
}

SITE=$WORK/site
python3 - "$SITE" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(17)
words = "fetch serve mirror folder listing page style image text byte link".split()
for d in range(20):
    folder = os.path.join(root, f"part{d:02}")
    os.makedirs(folder)
    names = [f"page{i}.html" for i in range(10)] + ["style.css"]
    names += [f"note{i}.txt" for i in range(45)] + [f"image{i}.png" for i in range(44)]
    for name in names:
        path = os.path.join(folder, name)
        if name.endswith(".html"):
            links = "".join(f'<li><a href="{rng.choice(names)}">{rng.choice(words)}</a>' for _ in range(8))
            body = (f'<!doctype html><link rel=stylesheet href="style.css"><h1>{name}</h1>'
                    f'<img src="image{rng.randrange(44)}.png"><ul>{links}</ul>'
                    + " ".join(rng.choice(words) for _ in range(rng.randrange(100, 1500))))
            open(path, "w").write(body)
        elif name.endswith(".css"):
            open(path, "w").write("body { font: 16px serif; background: url(image0.png) }\n" * 20)
        elif name.endswith(".txt"):
            open(path, "w").write(" ".join(rng.choice(words) for _ in range(rng.randrange(50, 3000))))
        else:
            open(path, "wb").write(rng.randbytes(rng.randrange(1000, 40000)))
PY

MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SERVE" -q -p "$MPORT" "$SITE" >"$WORK/serve-mirror.out" 2>&1 &
MPID=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$MPORT") 2>/dev/null && break
  sleep 0.1
done
URL="http://127.0.0.1:$MPORT/"

mirror_row() { # scenario client rss-scenario command...
  local scen=$1 client=$2 rss=$3; shift 3
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/mtime.txt" "$@" >/dev/null 2>&1 || true
  read -r wall user sys maxrss < <(tail -1 "$WORK/mtime.txt")
  echo "$scen-wall,$client,$round,$wall,s,,," >>"$CSV"
  echo "$scen-cpu,$client,$round,$(python3 -c "print(round($user+$sys,3))"),s,,," >>"$CSV"
  [[ -n $rss ]] && echo "$rss,$client,$round,$maxrss,KiB,,," >>"$CSV"
  return 0
}

# The copies go on a tmpfs when there is one: on this ext4 disk, creating files right after
# the last round's copy was removed spends most of the run in ext4's inode allocator
# (recently_deleted(), 0.34 ms a file under perf, for fetch and wget alike), which measures
# the disk's history rather than either program.
COPIES=$(mktemp -d /dev/shm/mirror-bench.XXXXXX 2>/dev/null || mktemp -d "$WORK/copies.XXXXXX")
FETCH_MIRROR=("$FETCH" -s --mirror -Z --parallel-max 8 "$URL")
WGET_MIRROR=(wget -q -r -np -l inf -e robots=off "$URL")
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$COPIES/fetch-copy" "$COPIES/wget-copy"
  mirror_row mirror-first fetch rss-mirror-first "${FETCH_MIRROR[@]}" --directory-prefix "$COPIES/fetch-copy"
  mirror_row mirror-first wget rss-mirror-first "${WGET_MIRROR[@]}" -P "$COPIES/wget-copy"
  mirror_row mirror-second fetch rss-mirror-second "${FETCH_MIRROR[@]}" --directory-prefix "$COPIES/fetch-copy"
  mirror_row mirror-second wget rss-mirror-second "${WGET_MIRROR[@]}" -N --no-if-modified-since -P "$COPIES/wget-copy"
done
# "With every file still checked": one more unchanged run, counting the files it found
# unchanged (by a 304 or by their folder's listing).
checked=$("${FETCH_MIRROR[@]}" --directory-prefix "$COPIES/fetch-copy" --report-json 2>&1 >/dev/null | grep -c '"outcome":"unchanged"' || true)
echo "mirror-second-files-checked,fetch,1,$checked,files,,," >>"$CSV"
((checked == 2000)) || echo "bench: the unchanged second run checked $checked files of 2000" >&2
# The same files with the same bytes (wget keeps the listings as index.html pages; fetch
# walks them as JSON and saves none).
if ! diff -r -x 'index.html*' -x .fetch-mirror "$COPIES/fetch-copy/127.0.0.1:$MPORT" "$COPIES/wget-copy/127.0.0.1:$MPORT" >/dev/null; then
  echo "bench: the fetch and wget copies differ: the mirror rows are not comparable" >&2
fi
kill "$MPID" 2>/dev/null || true
wait "$MPID" 2>/dev/null || true
rm -rf "$SITE"

# Issue 24's rows: a real documentation site no one here wrote (Debian's postgresql-doc-15:
# 1169 pages, a style sheet, 3 images, 18 MB, all in one folder with an index.html, so it is
# walked through its HTML), served by serve -q and by nginx, mirrored as typed:
#   real-first-{serve,nginx}     fetch --mirror --no-host-directories --directory-prefix DIR URL
#                                vs wget2 -r -nH -P DIR URL, wget -r -l inf -nH -P DIR URL
#   real-second-{serve,nginx}    the same again, nothing changed (wget2 -r -N; wget -r -N
#                                --no-if-modified-since)
# each with -wall, -cpu (user + system) and -rss (peak, KiB); fetch, wget2, wget in turn in
# every round. The copies are compared file by file once; the files the re-run found
# unchanged are counted (every file checked). MIRROR_REAL=0 leaves these rows out.
if [[ ${MIRROR_REAL:-1} == 1 ]]; then
  REAL=/usr/share/doc/postgresql-doc-15/html
  if [[ ! -f $REAL/index.html ]] || ! command -v wget2 >/dev/null || ! command -v nginx >/dev/null; then
    echo "bench: installing postgresql-doc-15, wget2, nginx-light for the real-site rows" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-doc-15 wget2 nginx-light >/dev/null 2>&1 \
      || echo "bench: could not install them: no real-site rows" >&2
  fi
fi
if [[ ${MIRROR_REAL:-1} == 1 && -f ${REAL:-}/index.html ]] && command -v wget2 >/dev/null && command -v nginx >/dev/null; then
  RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$SERVE" -q -p "$RPORT" "$REAL" >"$WORK/serve-real.out" 2>&1 &
  RPID=$!
  cat >"$WORK/nginx-real.conf" <<NGINX
worker_processes 2;
pid $WORK/nginx-real.pid;
error_log $WORK/nginx-real-error.log;
daemon off;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:$NPORT; root $REAL; }
}
NGINX
  nginx -c "$WORK/nginx-real.conf" &
  NPID=$!
  for port in "$RPORT" "$NPORT"; do
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
  done
  pages=$(find "$REAL" -type f | wc -l)
  for peer in serve nginx; do
    port=$RPORT
    [[ $peer == nginx ]] && port=$NPORT
    url="http://127.0.0.1:$port/"
    for round in $(seq 1 "$ROUNDS"); do
      rm -rf "$COPIES/real-fetch" "$COPIES/real-wget2" "$COPIES/real-wget"
      mirror_row "real-first-$peer" fetch "real-first-$peer-rss" \
        "$FETCH" -s --mirror --no-host-directories --directory-prefix "$COPIES/real-fetch" "$url"
      mirror_row "real-first-$peer" wget2 "real-first-$peer-rss" \
        wget2 -q -r -nH -P "$COPIES/real-wget2" "$url"
      mirror_row "real-first-$peer" wget "real-first-$peer-rss" \
        wget -q -r -l inf -nH -P "$COPIES/real-wget" "$url"
      mirror_row "real-second-$peer" fetch "real-second-$peer-rss" \
        "$FETCH" -s --mirror --no-host-directories --directory-prefix "$COPIES/real-fetch" "$url"
      mirror_row "real-second-$peer" wget2 "real-second-$peer-rss" \
        wget2 -q -r -N -nH -P "$COPIES/real-wget2" "$url"
      mirror_row "real-second-$peer" wget "real-second-$peer-rss" \
        wget -q -r -l inf -N --no-if-modified-since -nH -P "$COPIES/real-wget" "$url"
    done
    checked=$("$FETCH" -s --mirror --no-host-directories --directory-prefix "$COPIES/real-fetch" "$url" \
      --report-json 2>&1 >/dev/null | grep -c '"outcome":"unchanged"' || true)
    echo "real-second-$peer-files-checked,fetch,1,$checked,files,,," >>"$CSV"
    ((checked == pages)) || echo "bench: the unchanged re-run from $peer checked $checked files of $pages" >&2
    # The same files with the same bytes (robots.txt, which neither server has, is no file).
    for other in real-wget2 real-wget; do
      if ! diff -r -x .fetch-mirror -x robots.txt "$COPIES/real-fetch" "$COPIES/$other" >/dev/null; then
        echo "bench: the fetch and ${other#real-} copies of the real site from $peer differ" >&2
      fi
    done
  done
  kill "$RPID" "$NPID" 2>/dev/null || true
  wait "$RPID" "$NPID" 2>/dev/null || true
fi
rm -rf "$COPIES"

if ((ALONE)); then
  python3 "$ROOT/bench/report.py" "$CSV" "$((ROUNDS == 1))" | grep -v "^(quick run"
fi

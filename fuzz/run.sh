#!/usr/bin/env bash
# Runs every fuzz target for SECS seconds each (default 90), one after another, on the
# committed corpora, then minimizes each corpus in place. Needs cargo-fuzz
# (`cargo install cargo-fuzz`); on the stable toolchain, RUSTC_BOOTSTRAP=1 lets it use the
# sanitizer flags. Stops by itself: every run is bounded by -max_total_time.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-90}
export RUSTC_BOOTSTRAP=1
targets=(request_head url_map range response_head chunked multipart dechunk digest_field mirror_listing html_links www_authenticate)
cargo fuzz build -O
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${secs}s"
  cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=20000 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|SUMMARY|==[0-9]+==ERROR|thread .* panicked)' || true
  cargo fuzz cmin -O "$t" "corpus/$t" >/dev/null 2>&1
done
du -sh corpus

#!/usr/bin/env bash
# Cold build cost of each database alone: a fresh target directory, a release build of this
# package with one feature, the crates compiled and the wall time. Run from the repository root.
set -euo pipefail
manifest=benches/embedded_compare/Cargo.toml
cargo fetch --manifest-path "$manifest" >/dev/null
for feature in redb sqlite; do
  target=$(mktemp -d)
  started=$(date +%s.%N)
  log=$(CARGO_TARGET_DIR="$target" cargo build --release --manifest-path "$manifest" \
    --no-default-features --features "$feature" 2>&1)
  ended=$(date +%s.%N)
  crates=$(grep -c '^ *Compiling' <<<"$log" || true)
  printf '%s: %s crates, %.1f s\n' "$feature" "$crates" "$(echo "$ended - $started" | bc)"
  rm -rf "$target"
done

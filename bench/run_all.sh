#!/usr/bin/env bash
# Runs the whole Splink reference side: FEBRL3/4 and the sample district at
# each given size. Results (JSON + logs) go to bench/out/results/.
#
#   bash bench/run_all.sh                 # 20,000 persons, FEBRL3, FEBRL4
#   bash bench/run_all.sh 20000 400000    # also the ≈1M-record district
#
# Needs a release build (target/release/yici, or YICI=/path/to/yici) to write
# the sample districts; each goes to bench/out/district-N/sample (seed 2026,
# the shipped default, so the files are the same on every machine).
set -euo pipefail
bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$bench")"
yici="${YICI:-$root/target/release/yici}"
py="$bench/.venv/bin/python"
out="$bench/out"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20000)

[ -x "$py" ] || bash "$bench/setup.sh"
mkdir -p "$out/results"
echo "nproc $(nproc), $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg)"

"$py" "$bench/febrl.py" "$out/febrl"
"$py" "$bench/splink_febrl.py" "$out/febrl" --json-dir "$out/results" | tee "$out/results/splink_febrl.log"

for n in "${sizes[@]}"; do
    d="$out/district-$n"
    if [ ! -f "$d/sample/truth.csv" ]; then
        [ -x "$yici" ] || { echo "no yici binary at $yici (cargo build --release, or set YICI)" >&2; exit 1; }
        mkdir -p "$d"
        cp -r "$root/config" "$root/connectors" "$root/mappings" "$d/"
        (cd "$d" && "$yici" demo --persons "$n" -q)
    fi
    "$py" "$bench/splink_reference.py" "$d/sample" --json "$out/results/splink_sample$n.json" \
        | tee "$out/results/splink_sample$n.log"
done

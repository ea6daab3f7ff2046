#!/usr/bin/env bash
# yici on FEBRL3 and FEBRL4, the side of the comparison that splink_febrl.py
# is for Splink. Per data set, from an empty store:
#
#   check → pull → quarantine → reconcile → eval --sweep          (default model)
#   train → reconcile --full → eval --sweep                         (trained model)
#
# each step timed with /usr/bin/time (wall seconds, peak RSS). `eval --sweep`
# moves the link threshold by ±8 around the configured one (0: -8 … 8); an
# "extended" sweep (0 → -8 … 8) is run as well from a throw-away copy of the
# configuration root that shares the store, since the best point lies below 4.
# (Below the veto weight, -6, a lower threshold changes nothing: every blocked
# pair that does not veto is linked.)
#
#   bash bench/yici_febrl.sh [febrl3] [febrl4]
#
# Environment: YICI (the binary; default target/release/yici, copied to a
# temporary file first so a rebuild cannot swap it mid-run), FEBRL_DIR (the
# CSV files; default bench/out/febrl, written by febrl.py when missing), OUT
# (results; default bench/out/results/yici_febrl). Writes OUT/DATASET/*.txt
# and *.json, OUT/timings.tsv and OUT/summary.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
export FEBRL_DIR=${FEBRL_DIR:-$here/out/febrl}
FEBRL_DIR=$(mkdir -p "$FEBRL_DIR" && cd "$FEBRL_DIR" && pwd)
out=${OUT:-$here/out/results/yici_febrl}
mkdir -p "$out"
out=$(cd "$out" && pwd)
datasets=("$@")
[ ${#datasets[@]} -gt 0 ] || datasets=(febrl3 febrl4)

if [ ! -f "$FEBRL_DIR/febrl4/records_b.csv" ]; then
    "$here/.venv/bin/python" "$here/febrl.py" "$FEBRL_DIR"
fi

bin=$(mktemp /tmp/yici-febrl.XXXXXX)
tmp_roots=()
cleanup() {
    rm -f "$bin"
    for d in "${tmp_roots[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
cp "${YICI:-$root/target/release/yici}" "$bin"
chmod +x "$bin"
"$bin" --version

timings="$out/timings.tsv"
[ -f "$timings" ] || printf 'date\tdataset\tstep\tseconds\tpeak_rss_kb\texit\n' >"$timings"

# step DATASET NAME yici-args… : runs yici quietly, output to OUT/DATASET/NAME.txt
step() {
    local ds=$1 name=$2
    shift 2
    local t rc=0
    t=$(mktemp)
    /usr/bin/time -f '%e %M' -o "$t" "$bin" -q --config "$here/febrl-config/$ds" "$@" \
        >"$out/$ds/$name.txt" || rc=$?
    read -r secs rss <"$t"
    rm -f "$t"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$ds" "$name" "$secs" "$rss" "$rc" >>"$timings"
    printf '  %-22s %6ss %8s KB  exit %s\n' "$name" "$secs" "$rss" "$rc"
    # pull exits 4 on a partial failure; everything else must succeed.
    [ "$rc" -eq 0 ] || { cat "$out/$ds/$name.txt"; exit "$rc"; }
}

# extended_sweep DATASET TRUTH NAME: eval --sweep at link thresholds -8 … 8
extended_sweep() {
    local ds=$1 truth=$2 name=$3 cfg="$here/febrl-config/$1" tmp
    tmp=$(mktemp -d /tmp/yici-febrl-sweep.XXXXXX)
    tmp_roots+=("$tmp")
    mkdir -p "$tmp/config"
    sed -E 's/^upper_threshold *=.*/upper_threshold = 0.0/; s/^lower_threshold *=.*/lower_threshold = -5.0/' \
        "$cfg/config/yici.toml" >"$tmp/config/yici.toml"
    ln -s "$cfg/connectors" "$tmp/connectors"
    ln -s "$cfg/mappings" "$tmp/mappings"
    ln -s "$cfg/var" "$tmp/var"
    "$bin" -q --json --config "$tmp" eval --truth "$truth" --sweep >"$out/$ds/$name.json"
}

for ds in "${datasets[@]}"; do
    cfg="$here/febrl-config/$ds"
    truth="$FEBRL_DIR/$ds/truth.csv"
    echo "== $ds"
    mkdir -p "$out/$ds"
    rm -rf "$cfg/var"
    step "$ds" check check
    step "$ds" pull pull
    step "$ds" quarantine quarantine
    "$bin" -q --json --config "$cfg" quarantine >"$out/$ds/quarantine.json"
    step "$ds" blocking blocking
    step "$ds" reconcile reconcile
    step "$ds" eval-default eval --truth "$truth" --sweep
    "$bin" -q --json --config "$cfg" eval --truth "$truth" --sweep >"$out/$ds/eval-default.json"
    extended_sweep "$ds" "$truth" sweep-extended-default
    "$bin" -q --config "$cfg" export links --format csv >"$out/$ds/links-default.csv"
    step "$ds" train train
    step "$ds" reconcile-full reconcile --full
    step "$ds" eval-trained eval --truth "$truth" --sweep
    "$bin" -q --json --config "$cfg" eval --truth "$truth" --sweep >"$out/$ds/eval-trained.json"
    extended_sweep "$ds" "$truth" sweep-extended-trained
    "$bin" -q --config "$cfg" export links --format csv >"$out/$ds/links-trained.csv"
    cp "$cfg/var/match-model.toml" "$out/$ds/match-model.toml"
done

python3 - "$out" "${datasets[@]}" <<'PY'
import json, sys, os, datetime, csv
out, datasets = sys.argv[1], sys.argv[2:]
lines = [f"# yici on FEBRL ({datetime.date.today()}, nproc {os.cpu_count()})", ""]
times = {}
with open(os.path.join(out, "timings.tsv")) as f:
    for r in csv.DictReader(f, delimiter="\t"):
        times[(r["dataset"], r["step"])] = (r["seconds"], r["peak_rss_kb"])
def fmt(m):
    return f"{m['precision']:.5f} / {m['recall']:.5f} / **{m['f1']:.5f}**"
lines += ["| data | model | at the configured threshold: P / R / F1 | false merges / missed pairs | best threshold: P / R / F1 (false merges / missed) |",
          "|---|---|---|---|---|"]
for ds in datasets:
    for model in ("default", "trained"):
        e = json.load(open(os.path.join(out, ds, f"eval-{model}.json")))
        x = json.load(open(os.path.join(out, ds, f"sweep-extended-{model}.json")))
        points = {p["upper_threshold"]: p["metrics"] for p in e["sweep"] + x["sweep"]}
        best_t = max(points, key=lambda t: (points[t]["f1"], t))
        c = e["current"]
        lines.append(f"| {ds} | {model} | {fmt(c)} | {c['false_positives']} / {c['false_negatives']} | "
                     f"{best_t:g}: {fmt(points[best_t])} ({points[best_t]['false_positives']} / {points[best_t]['false_negatives']}) |")
lines += ["", "Missed links by cause at 12 (`yici eval`):", ""]
for ds in datasets:
    for model in ("default", "trained"):
        e = json.load(open(os.path.join(out, ds, f"eval-{model}.json")))
        causes = ", ".join(f"{k} {v}" for k, v in sorted(e["causes"]["missed_links"].items()))
        fm = ", ".join(f"{k} {v}" for k, v in sorted(e["causes"]["false_merges"].items())) or "none"
        lines.append(f"- {ds}, {model}: missed: {causes}; false merges: {fm}")
lines += ["", "| data | " + " | ".join(s for s in ("check", "pull", "reconcile", "eval-default", "train", "reconcile-full", "eval-trained")) + " |",
          "|---|" + "---:|" * 7]
for ds in datasets:
    cells = []
    for s in ("check", "pull", "reconcile", "eval-default", "train", "reconcile-full", "eval-trained"):
        secs, rss = times.get((ds, s), ("?", "0"))
        cells.append(f"{secs} s, {int(rss) // 1024} MB")
    lines.append(f"| {ds} | " + " | ".join(cells) + " |")
lines += ["", "Full sweeps (link threshold: P / R / F1):", ""]
for ds in datasets:
    for model in ("default", "trained"):
        e = json.load(open(os.path.join(out, ds, f"eval-{model}.json")))
        x = json.load(open(os.path.join(out, ds, f"sweep-extended-{model}.json")))
        points = {p["upper_threshold"]: p["metrics"] for p in e["sweep"] + x["sweep"]}
        row = "; ".join(f"{t:g}: {m['precision']:.4f}/{m['recall']:.4f}/{m['f1']:.4f}" for t, m in sorted(points.items()))
        lines.append(f"- {ds}, {model}: {row}")
text = "\n".join(lines) + "\n"
open(os.path.join(out, "summary.md"), "w").write(text)
print(text)
PY

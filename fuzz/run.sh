#!/usr/bin/env bash
# Coverage-guided fuzzing of one HeadWise reader with SharpFuzz + AFL++:
#   fuzz/run.sh TARGET SECONDS [OUT_DIR]     (targets: fuzz/run.sh list)
# Builds fuzz/HeadWise.Fuzz, instruments HeadWise.dll, makes the seed corpus from the real files (../shared/models,
# models/testbed-2k, the committed atlas) plus fuzz/corpus/TARGET/, and runs afl-fuzz for SECONDS with the committed
# dictionary fuzz/dict/TARGET.dict. An input runs at most 10 s (-t) and the managed heap is capped at 1 GB, so a hang or
# an allocation over 1 GB is a finding like a crash. Ends with one line "fuzz TARGET: ..." and exit 0 only when AFL++
# ran the whole time and found no crash and no hang. Needs afl-fuzz (apt: afl++) and sharpfuzz (dotnet tool
# SharpFuzz.CommandLine); FUZZ_INSTALL=1 installs them.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
target=${1:?usage: fuzz/run.sh TARGET SECONDS [OUT_DIR]}
export PATH="$PATH:$HOME/.dotnet/tools"

if [ "${FUZZ_INSTALL:-0}" = 1 ]; then
  command -v afl-fuzz >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null; }
  command -v sharpfuzz >/dev/null || dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi
command -v afl-fuzz >/dev/null || { echo "error: afl-fuzz not found (apt-get install afl++, or FUZZ_INSTALL=1)" >&2; exit 1; }
command -v sharpfuzz >/dev/null || { echo "error: sharpfuzz not found (dotnet tool install --global SharpFuzz.CommandLine, or FUZZ_INSTALL=1)" >&2; exit 1; }

work=${FUZZ_WORK:-$repo/runs/fuzz}
build=$repo/fuzz/HeadWise.Fuzz/bin/Release/net10.0/linux-x64
bin=$work/bin
mkdir -p "$work"
# One build and one instrumented copy (managed assemblies only: the readers never touch libtorch) for every target.
(
  flock 9
  dotnet build "$repo/fuzz/HeadWise.Fuzz" -c Release -v q -nologo 2>&1 | grep -E " error |rror\(s\)" | grep -v " 0 Error" >&2
  if [ ! -f "$bin/.instrumented" ] || [ "$build/HeadWise.dll" -nt "$bin/.instrumented" ] || [ "$build/HeadWise.Fuzz.dll" -nt "$bin/.instrumented" ]; then
    rm -rf "$bin" && mkdir -p "$bin"
    cp "$build"/*.dll "$build"/*.json "$bin"/
    sharpfuzz "$bin/HeadWise.dll" >/dev/null || { echo "error: sharpfuzz could not instrument HeadWise.dll" >&2; exit 1; }
    touch "$bin/.instrumented"
  fi
) 9>"$work/.build.lock" || exit 1

if [ "$target" = list ]; then dotnet "$build/HeadWise.Fuzz.dll" list; exit 0; fi
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [OUT_DIR]}
out=${3:-$work/$target}
seeds=$work/seeds/$target
rm -rf "$seeds" && mkdir -p "$seeds"
dotnet "$build/HeadWise.Fuzz.dll" seeds "$target" "$seeds" >/dev/null || { echo "error: could not make the seeds of $target" >&2; exit 1; }
[ -d "$repo/fuzz/corpus/$target" ] && cp "$repo/fuzz/corpus/$target"/* "$seeds"/ 2>/dev/null
dict=()
[ -f "$repo/fuzz/dict/$target.dict" ] && dict=(-x "$repo/fuzz/dict/$target.dict")

rm -rf "$out" && mkdir -p "$(dirname "$out")"
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_FORKSRV_INIT_TMOUT=120000 AFL_SHUFFLE_QUEUE=0
export DOTNET_GCHeapHardLimit=0x40000000 DOTNET_TieredCompilation=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
started=$(date +%s)
# AFL++ without its UI prints a line per queue entry it fuzzes; on a target with a tiny queue that is thousands of lines a
# second (a 15-minute duo-tsv run wrote 38 GB), so only the log's last megabyte is kept.
afl-fuzz -i "$seeds" -o "$out" "${dict[@]}" -t 10000 -m none -V "$seconds" -- dotnet "$bin/HeadWise.Fuzz.dll" run "$target" 2>&1 \
  | tail -c 1000000 > "$out.log"
afl=${PIPESTATUS[0]}
elapsed=$(( $(date +%s) - started ))

stats=$out/default/fuzzer_stats
stat() { sed -n "s/^$1 *: *//p" "$stats" 2>/dev/null | head -n 1; }
execs=$(stat execs_done); rate=$(stat execs_per_sec); crashes=$(stat saved_crashes); hangs=$(stat saved_hangs); paths=$(stat corpus_count)
crashes=${crashes:-$(ls "$out/default/crashes" 2>/dev/null | grep -vc README)}
hangs=${hangs:-$(ls "$out/default/hangs" 2>/dev/null | wc -l)}
echo "fuzz $target: ${execs:-0} executions in ${elapsed} s (${rate:-0}/s), corpus ${paths:-0}, crashes ${crashes:-0}, hangs ${hangs:-0}"
status=0
if [ "$afl" -ne 0 ] || [ ! -f "$stats" ]; then
  echo "error: afl-fuzz stopped with code $afl (a hang or a fatal crash kills the in-process fuzzer; its input is $out/default/.cur_input); log: $out.log" >&2
  tail -n 20 "$out.log" >&2
  status=1
fi
if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
  echo "error: findings in $out/default/crashes and $out/default/hangs; reproduce with: dotnet $build/HeadWise.Fuzz.dll once $target FILE" >&2
  status=1
fi
exit $status

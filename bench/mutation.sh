#!/usr/bin/env bash
# Mutation testing (issue 23): Stryker.NET mutates namespaces of src/HeadWise and runs the fast tests relevant to them
# (per-test coverage, so each mutant runs only the tests that reach it). Not in CI: it takes long.
#   bench/mutation.sh NAMESPACES [OUT_DIR]   NAMESPACES: one or more of Heads, Eval, KvCache, Analysis, Models,
#                                             comma-separated (one run pays Stryker's set-up once for all of them)
# Writes OUT_DIR (default runs/mutation/NAMESPACES) with Stryker's reports (reports/mutation-report.{json,html,md});
# bench/mutation-scores.py OUT_DIR/reports/mutation-report.json prints the score per namespace.
# Stryker 5.1.0 is installed on first use into STRYKER_TOOLS (default runs/mutation/tools, git-ignored), never globally.
# STRYKER_CONCURRENCY (default 1) sets how many test sessions run at once.
# STRYKER_ADDITIONAL_TIMEOUT_MS (default 5000, Stryker's own) is added to each session's timeout (2 x the idle baseline
# + this); on a loaded machine raise it (60000), or slow sessions are miscounted as Timeout (killed).
# STRYKER_FILES (optional): comma-separated files under src/HeadWise (e.g. KvCache/Policies/DuoPolicy.cs, globs allowed)
# to mutate instead of the whole namespaces, for a re-run of what an earlier run left surviving; each must lie in one of
# NAMESPACES, whose test folders stay the test filter.
set -euo pipefail
nss=${1:?usage: bench/mutation.sh Heads|Eval|KvCache|Analysis|Models[,...] [OUT_DIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${2:-$root/runs/mutation/${nss//,/-}}" && cd "${2:-$root/runs/mutation/${nss//,/-}}" && pwd)
tools=${STRYKER_TOOLS:-$root/runs/mutation/tools}
version=5.1.0

# Each namespace's own test folder: those tests exercise it and finish in seconds (the whole suite takes ~15 min on a
# loaded 2-core box; Stryker runs the covering subset of these once per mutant).
mutate=() filters=()
IFS=, read -ra list <<< "$nss"
for ns in "${list[@]}"; do
  case "$ns" in
    Heads|Eval|KvCache|Analysis|Models) ;;
    *) echo "error: unknown namespace '$ns' (Heads, Eval, KvCache, Analysis, Models)" >&2; exit 1 ;;
  esac
  mutate+=("\"**/$ns/**/*.cs\"")
  filters+=("FullyQualifiedName~HeadWise.Tests.$ns.")
done
if [ -n "${STRYKER_FILES:-}" ]; then
  mutate=()
  IFS=, read -ra files <<< "$STRYKER_FILES"
  for f in "${files[@]}"; do
    case ",$nss," in
      *",${f%%/*},"*) mutate+=("\"**/$f\"") ;;
      *) echo "error: STRYKER_FILES entry '$f' is not in the namespaces $nss" >&2; exit 1 ;;
    esac
  done
fi
mutate_json=$(IFS=,; echo "${mutate[*]}")
filter=$(IFS='|'; echo "${filters[*]}")

if [ ! -x "$tools/dotnet-stryker" ]; then
  dotnet tool install dotnet-stryker --version "$version" --tool-path "$tools" >/dev/null
fi

config="$out/stryker-config.json"
cat > "$config" <<JSON
{
  "stryker-config": {
    "project": "HeadWise.csproj",
    "test-projects": ["$root/tests/HeadWise.Tests/HeadWise.Tests.csproj"],
    "mutate": [$mutate_json],
    "configuration": "Release",
    "coverage-analysis": "perTest",
    "test-case-filter": "$filter",
    "concurrency": ${STRYKER_CONCURRENCY:-1},
    "additional-timeout": ${STRYKER_ADDITIONAL_TIMEOUT_MS:-5000},
    "mutation-level": "Standard",
    "reporters": ["dots", "json", "html", "markdown"],
    "thresholds": { "high": 80, "low": 60, "break": 0 }
  }
}
JSON

# One libtorch thread per test process: OpenMP threads spinning against each other on a busy machine cost more than they give.
export HEADWISE_THREADS=1 OMP_NUM_THREADS=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
cd "$root/tests/HeadWise.Tests"
# --log-to-file: a trace log under OUT_DIR/logs names each mutant's result as it is decided, so a run stopped early
# still says what it tested.
"$tools/dotnet-stryker" --config-file "$config" --output "$out" --skip-version-check --log-to-file

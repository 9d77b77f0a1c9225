#!/usr/bin/env bash
# Installs the benchmark's peers, each into its own folder with its own package.json, lockfile and node_modules
# (they pin different @event-driven-io/emmett versions and drivers of their own, so they cannot share the project's).
# Idempotent: a peer whose node_modules matches its lockfile is left alone. Run by `npm run bench:setup`.
#
# sqlite3 (Emmett-SQLite's driver) and better-sqlite3 (LangGraph SqliteSaver's) are native addons: with no network
# for prebuilt binaries they build from source, which takes one to two minutes each here. The LangGraph SQLite peer
# pins better-sqlite3 12.x: 13 crashes on Node 20.
set -euo pipefail

cd "$(dirname "$0")/peers"
export npm_config_build_from_source=true   # never try to download prebuilt binaries
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

for peer in */; do
  peer="${peer%/}"
  [ -f "$peer/package.json" ] || continue
  stamp="$peer/node_modules/.bench-installed"
  if [ -f "$stamp" ] && [ -f "$peer/package-lock.json" ] && cmp -s "$peer/package-lock.json" "$stamp"; then
    echo "bench peer $peer: up to date"
    continue
  fi
  echo "bench peer $peer: installing…"
  start=$SECONDS
  if [ -f "$peer/package-lock.json" ]; then
    # npm ci refuses a lockfile that lacks optional platform packages npm itself left out (cbor-x's cbor-extract
    # builds, for automerge-repo); npm install then installs the same locked versions.
    (cd "$peer" && { npm ci --no-audit --no-fund --loglevel=silent || npm install --no-audit --no-fund --loglevel=error; })
  else
    (cd "$peer" && npm install --no-audit --no-fund --loglevel=error)
  fi
  cp "$peer/package-lock.json" "$stamp"
  echo "bench peer $peer: installed in $((SECONDS - start)) s"
done

# Fail here, not in the middle of a bench run, if a native addon did not build.
(cd emmett-sqlite && node -e "new (require('sqlite3').Database)(':memory:').close()") \
  || { echo "bench peer emmett-sqlite: sqlite3 does not load" >&2; exit 1; }
(cd langgraph-sqlite && node -e "new (require('better-sqlite3'))(':memory:').close()") \
  || { echo "bench peer langgraph-sqlite: better-sqlite3 does not load" >&2; exit 1; }
(cd langgraph-postgres && node --input-type=module -e "await import('@langchain/langgraph-checkpoint-postgres')") \
  || { echo "bench peer langgraph-postgres: @langchain/langgraph-checkpoint-postgres does not load" >&2; exit 1; }
echo "bench peers ready"

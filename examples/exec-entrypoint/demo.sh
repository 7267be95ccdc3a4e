#!/usr/bin/env bash
# Runs three "replicas" of the entry point at once against one database, as a
# container platform would, without Docker: each migrates (one applies, the
# others wait for the lock and find nothing to do) and then execs the "server".
# Usage (from the repository root): examples/exec-entrypoint/demo.sh [DATABASE_URL]
set -euo pipefail
cd "$(dirname "$0")"
db=${1:-sqlite:$(mktemp -d)/app.db}
go build -o /tmp/runway-demo ../../cmd/runway
for i in 1 2 3; do
  /tmp/runway-demo -d "$db" --dir migrations exec --migrate -- sh -c "echo replica $i serving" &
done
wait
/tmp/runway-demo -d "$db" --dir migrations status

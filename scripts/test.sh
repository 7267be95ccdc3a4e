#!/usr/bin/env bash
# test.sh is Runway's single test command, run from the repository root:
#
#   ./scripts/test.sh                        gofmt, vet, all tests (and those of the
#                                            compat and bench modules), a short fuzz pass
#   ./scripts/test.sh -run TestX ./engine/   the same, limited to those packages
#
# Arguments go to `go test`; when none of them names a package (./x, ../x,
# ., all, or an import path of this module), ./... is added. gofmt, vet and
# the fuzz pass cover the same packages as the tests.
#
# Environment:
#   RUNWAY_TEST_POSTGRES, RUNWAY_TEST_MYSQL  servers to use; when unset, one
#       throw-away server of each is started for the whole run (see
#       internal/testdb/cmd/testservers) and stopped at the end.
#   RUNWAY_FUZZ_TIME  how long to run each fuzz target (default 10s); 0 skips.
#
# On a Debian machine without the PostgreSQL or MariaDB server binaries it
# installs them with apt-get (postgresql, mariadb-server), through sudo when
# not root. Go itself must already be installed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
module=github.com/runwaydb/runway
fuzz_time=${RUNWAY_FUZZ_TIME:-10s}

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not installed (see go.mod for the version)"

# --- arguments -------------------------------------------------------------

is_package() {
	case $1 in
	. | .. | ./* | ../* | all | "$module" | "$module"/*) return 0 ;;
	*) return 1 ;;
	esac
}

pkgs=()
test_args=()
after_args=false # after -args everything belongs to the test binary
for a in "$@"; do
	[[ $a == -args || $a == --args ]] && after_args=true
	if ! $after_args && is_package "$a"; then pkgs+=("$a"); fi
done
all_pkgs=false
if ((${#pkgs[@]} == 0)); then
	all_pkgs=true
	pkgs=(./...)
	# ./... goes before any -args.
	inserted=false
	for a in "$@"; do
		if ! $inserted && [[ $a == -args || $a == --args ]]; then
			test_args+=(./...)
			inserted=true
		fi
		test_args+=("$a")
	done
	$inserted || test_args+=(./...)
else
	test_args=("$@")
fi

# --- server binaries -------------------------------------------------------

have_postgres() {
	local d
	if command -v initdb >/dev/null && command -v postgres >/dev/null; then return 0; fi
	for d in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /usr/local/pgsql/bin; do
		[[ -x $d/initdb && -x $d/postgres ]] && return 0
	done
	return 1
}

have_mariadb() {
	{ command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]]; } &&
		{ command -v mariadb-install-db >/dev/null || [[ -x /usr/bin/mariadb-install-db ]]; }
}

missing=()
if [[ -z ${RUNWAY_TEST_POSTGRES:-} ]] && ! have_postgres; then missing+=(postgresql); fi
if [[ -z ${RUNWAY_TEST_MYSQL:-} ]] && ! have_mariadb; then missing+=(mariadb-server); fi
if ! command -v pgbouncer >/dev/null && [[ ! -x /usr/sbin/pgbouncer ]]; then missing+=(pgbouncer); fi
if ! command -v sshd >/dev/null && [[ ! -x /usr/sbin/sshd ]]; then missing+=(openssh-server); fi
if ((${#missing[@]} > 0)); then
	say "installing ${missing[*]}"
	command -v apt-get >/dev/null ||
		die "no apt-get: install ${missing[*]} yourself, or set RUNWAY_TEST_POSTGRES / RUNWAY_TEST_MYSQL"
	sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} yourself"
		sudo=(sudo)
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql mariadb-server pgbouncer openssh-server
	# The tests start their own PgBouncer: not the system service the package may have started.
	if [[ " ${missing[*]} " == *" pgbouncer "* ]] && command -v systemctl >/dev/null; then "${sudo[@]}" systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
	# Likewise the tunnel tests start their own sshd: no system one listening on port 22.
	if [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null; then "${sudo[@]}" systemctl disable --now ssh >/dev/null 2>&1 || true; fi
	have_postgres || [[ -n ${RUNWAY_TEST_POSTGRES:-} ]] || die "PostgreSQL binaries still not found after installing"
	have_mariadb || [[ -n ${RUNWAY_TEST_MYSQL:-} ]] || die "MariaDB binaries still not found after installing"
fi

# --- the servers for this run ----------------------------------------------

# Named like internal/testdb's directories, so that should this shell be
# killed before removing it, the next test run's sweep does.
work=$(mktemp -d "${TMPDIR:-/tmp}/runway-testdb-$$-script.XXXXXX")
servers_pid=

stop_servers() {
	[[ -n $servers_pid ]] || return 0
	exec 9>&- || true # its standard input closes: it stops
	kill -TERM "$servers_pid" 2>/dev/null || true
	wait "$servers_pid" 2>/dev/null || true
	servers_pid=
}
cleanup() {
	local status=$?
	trap - EXIT INT TERM HUP
	stop_servers
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

want_pg=false want_my=false
[[ -z ${RUNWAY_TEST_POSTGRES:-} ]] && want_pg=true
[[ -z ${RUNWAY_TEST_MYSQL:-} ]] && want_my=true
if $want_pg || $want_my; then
	say "starting test servers"
	go build -o "$work/testservers" ./internal/testdb/cmd/testservers
	mkfifo "$work/hold"
	# The server process reads the FIFO, whose only writer is fd 9 of this
	# shell: should this shell die even by SIGKILL, it sees end of file and
	# stops the servers. Commands below get 9>&- so they do not hold it open.
	"$work/testservers" -postgres="$want_pg" -mysql="$want_my" -env "$work/env" \
		<"$work/hold" >/dev/null 2>"$work/servers.log" &
	servers_pid=$!
	exec 9>"$work/hold"
	deadline=$((SECONDS + 120))
	until [[ -f $work/env ]]; do
		if ! kill -0 "$servers_pid" 2>/dev/null || ((SECONDS > deadline)); then
			cat "$work/servers.log" >&2
			die "the test servers did not start"
		fi
		sleep 0.1
	done
	cat "$work/servers.log" >&2
	# shellcheck disable=SC1091
	source "$work/env"
fi
export RUNWAY_TEST_POSTGRES RUNWAY_TEST_MYSQL
printf 'RUNWAY_TEST_POSTGRES=%s\nRUNWAY_TEST_MYSQL=%s\n' "$RUNWAY_TEST_POSTGRES" "$RUNWAY_TEST_MYSQL" >&2

# --- the steps ---------------------------------------------------------------

results=()
failed=0
record() { # name status seconds
	if (($2 == 0)); then
		results+=("$(printf 'PASS  %-50s %4ss' "$1" "$3")")
	else
		results+=("$(printf 'FAIL  %-50s %4ss' "$1" "$3")")
		failed=1
	fi
}

# Package directories and import paths of the selected packages.
go list -e -f '{{.Dir}} {{.ImportPath}}' "${pkgs[@]}" >"$work/packages" 9>&-

say "gofmt -l"
start=$SECONDS
files=()
while read -r dir _; do
	for f in "$dir"/*.go; do [[ -e $f ]] && files+=("$f"); done
done <"$work/packages"
unformatted=
((${#files[@]} == 0)) || unformatted=$(gofmt -l "${files[@]}" 9>&-)
if [[ -n $unformatted ]]; then
	printf 'not gofmt-ed:\n%s\n' "$unformatted" >&2
	record "gofmt" 1 $((SECONDS - start))
else
	record "gofmt" 0 $((SECONDS - start))
fi

say "go vet ${pkgs[*]}"
start=$SECONDS
status=0
go vet "${pkgs[@]}" 9>&- || status=$?
record "go vet" "$status" $((SECONDS - start))

say "go test -count=1 -timeout 20m ${test_args[*]}"
start=$SECONDS
status=0
go test -count=1 -timeout 20m "${test_args[@]}" 9>&- 2>&1 | tee "$work/test.log" 9>&- || status=$?
record "go test" "$status" $((SECONDS - start))

# The nos3 build (no AWS SDK, for faster start-up): it compiles, vets, and
# refuses s3:// sources with a clear message; only when all packages are selected.
if $all_pkgs; then
	say "go vet + go test -tags nos3 (the CLI without the AWS SDK)"
	start=$SECONDS
	status=0
	(go vet -tags nos3 ./cmd/runway && go test -tags nos3 -count=1 -run 'TestNoS3Build' ./cmd/runway) 9>&- 2>&1 | tee -a "$work/test.log" 9>&- || status=$?
	record "go test -tags nos3" "$status" $((SECONDS - start))
fi

# The compat module (its own go.mod, so the other migration tools stay out of
# Runway's) runs adopt against their libraries; only when all packages are selected.
if $all_pkgs; then
	say "go vet + go test -count=1 -timeout 20m ./... (in compat/)"
	start=$SECONDS
	status=0
	(cd compat && go vet ./... && go test -count=1 -timeout 20m ./...) 9>&- 2>&1 | tee -a "$work/test.log" 9>&- || status=$?
	record "go test (compat module)" "$status" $((SECONDS - start))
fi

# The bench module (its own go.mod, so the peers stay out of Runway's): it
# must keep building, and its own unit tests run. The benchmark itself is
# `make bench`, not part of the test suite.
if $all_pkgs; then
	say "gofmt + go vet + go test ./... (in bench/)"
	start=$SECONDS
	status=0
	(cd bench && unformatted=$(gofmt -l .) && { [[ -z $unformatted ]] || { printf 'not gofmt-ed:\n%s\n' "$unformatted"; false; }; } &&
		go vet ./... && go test -count=1 ./...) 9>&- 2>&1 | tee -a "$work/test.log" 9>&- || status=$?
	record "go test (bench module)" "$status" $((SECONDS - start))
fi

if [[ $fuzz_time != 0 ]]; then
	say "fuzzing each target for $fuzz_time"
	targets=0
	while read -r -u 3 dir importpath; do
		for f in "$dir"/*_test.go; do
			[[ -e $f ]] || continue
			for name in $(sed -n -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$f"); do
				targets=$((targets + 1))
				say "fuzz $name ($importpath)"
				start=$SECONDS
				status=0
				{
					st=0
					go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzz_time" "$importpath" 9>&- </dev/null 2>&1 || st=$?
					echo "$st" >"$work/fuzz.status"
				} | tee "$work/fuzz.log"
				status=$(<"$work/fuzz.status")
				# On a loaded machine Go's fuzzer can end with only "context
				# deadline exceeded" when -fuzztime runs out while a worker is
				# busy: no input failed. A real finding writes a failing input
				# or panics, and still fails the run.
				if ((status != 0)) && grep -q 'context deadline exceeded' "$work/fuzz.log" &&
					! grep -qE 'Failing input written|panic:|failure while testing seed' "$work/fuzz.log"; then
					printf 'note: the fuzzer timed out internally at the end of -fuzztime; no failing input: counted as a pass\n'
					status=0
				fi
				record "fuzz $name (${importpath#"$module"/})" "$status" $((SECONDS - start))
			done
		done
	done 3<"$work/packages"
	((targets > 0)) || results+=("      (no fuzz targets)")
fi

# --- summary -------------------------------------------------------------------

printf '\n==== summary\n'
printf '%s\n' "${results[@]}"
if grep -qE '^(--- FAIL|FAIL|panic:)' "$work/test.log" 2>/dev/null; then
	printf '\nfailing tests and packages:\n'
	grep -E '^\s*(--- FAIL|FAIL|panic:)' "$work/test.log" | sed 's/^/  /'
fi
if ((failed)); then
	printf '\nFAILED\n'
	exit 1
fi
printf '\nPASSED\n'

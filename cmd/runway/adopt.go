package main

import (
	"context"
	"flag"
	"strings"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/adopt"
	"github.com/runwaydb/runway/report"
)

type adoptFlags struct{ from string }

// toolNames is the list of --from values for messages: "golang-migrate|goose|…".
func toolNames() string {
	names := make([]string, len(adopt.Tools))
	for i, t := range adopt.Tools {
		names[i] = string(t)
	}
	return strings.Join(names, "|")
}

var cmdAdopt = &command{
	name:    "adopt",
	summary: "take over from another migration tool: record its applied migrations in Runway's history without running them",
	detail: "Reads the history table of the tool named by --from and records the migrations it has applied as applied in " +
		"Runway's history, with the checksums of the current files, in one transaction; nothing is run and the tool's own " +
		"table is left untouched. --dir must hold the migrations that built the database: adopt refuses when the tool " +
		"records a version the source has no file for, when its history is unfinished (golang-migrate dirty, a failed " +
		"Flyway row: fix it with that tool first), and when Runway's history already has rows (use baseline or repair).\n\n" +
		"Tables read: golang-migrate and dbmate schema_migrations, goose goose_db_version, sql-migrate gorp_migrations, " +
		"Flyway flyway_schema_history (current schema on PostgreSQL, current database on MySQL/MariaDB).",
	example: "runway -d postgres://app@db/app --dir migrations adopt --from goose",
	flags: func(fs *flag.FlagSet) any {
		f := &adoptFlags{}
		fs.StringVar(&f.from, "from", "", "the `tool` whose history to adopt: "+toolNames())
		return f
	},
	run: func(ctx context.Context, a *app, flags any, args []string) error {
		if err := noArgs("adopt", args); err != nil {
			return err
		}
		f := flags.(*adoptFlags)
		if f.from == "" {
			return usagef("adopt needs --from %s", toolNames())
		}
		tool, err := adopt.ParseTool(f.from)
		if err != nil {
			return usagef("adopt --from: %v", err)
		}
		return a.withRunner(ctx, nil, func(r *runway.Runner) (*report.Report, error) {
			return r.Adopt(ctx, tool)
		})
	},
}

// Command embed is an application that carries its migrations inside its
// binary and applies them at start-up, safely under the migration lock: start
// as many replicas at once as you like, each migration runs exactly once.
//
//	go run ./examples/embed                                   # SQLite file app.db
//	DATABASE_URL=postgres://postgres@127.0.0.1/app go run ./examples/embed
package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log"
	"os"
	"strings"
	"time"

	"github.com/runwaydb/runway"
	"github.com/runwaydb/runway/database"
	"github.com/runwaydb/runway/database/mysql"
	"github.com/runwaydb/runway/database/postgres"
	"github.com/runwaydb/runway/database/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

func main() {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		url = "sqlite:app.db"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := migrate(ctx, url); err != nil {
		log.Fatalf("migrate: %v", err)
	}
	fmt.Println("schema is up to date; starting the application")
}

// migrate applies the embedded migrations to the database at url.
func migrate(ctx context.Context, url string) error {
	drv, err := open(ctx, url)
	if err != nil {
		return err
	}
	defer drv.Close(ctx)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	rep, err := runway.Up(ctx, drv, sub, runway.WithLockTimeout(2*time.Minute))
	if err != nil {
		return err
	}
	fmt.Printf("migrations: %s, %d applied, now at version %s\n", rep.Status, len(rep.Applied), rep.ToVersion)
	return nil
}

// open picks the driver from the URL scheme: the application imports only
// the drivers it uses.
func open(ctx context.Context, url string) (database.Driver, error) {
	cfg := database.Config{}
	switch {
	case strings.HasPrefix(url, "postgres"):
		return postgres.Open(ctx, url, cfg)
	case strings.HasPrefix(url, "mysql"), strings.HasPrefix(url, "mariadb"):
		return mysql.Open(ctx, url, cfg)
	default:
		return sqlite.Open(ctx, url, cfg)
	}
}

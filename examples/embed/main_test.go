package main

import (
	"context"
	"sync"
	"testing"

	"github.com/runwaydb/runway/internal/testdb"
)

// Three replicas start at once against one database: all succeed, and the
// schema is applied once.
func TestReplicasMigrateAtStartup(t *testing.T) {
	for name, url := range map[string]string{
		"postgres": testdb.Postgres(t),
		"mysql":    testdb.MySQL(t),
		"sqlite":   "sqlite:" + t.TempDir() + "/app.db",
	} {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 3)
			for i := 0; i < 3; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- migrate(context.Background(), url)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestMain(m *testing.M) { testdb.Main(m) }

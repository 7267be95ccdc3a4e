package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The measure helper starts -n copies of the command and, with -with, that
// many copies of the second command after "---", all at once, and reports
// the figures of all of them.
func TestMeasureHelperCrowd(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "measure")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/measure").CombinedOutput(); err != nil {
		t.Fatalf("build measure: %v\n%s", err, out)
	}
	log := filepath.Join(dir, "log")
	result := filepath.Join(dir, "r.json")
	cmd := exec.Command(bin, "-o", result, "-n", "2", "-with", "3", "--",
		"sh", "-c", "echo first >> "+log, "---", "sh", "-c", "echo second >> "+log)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("measure: %v\n%s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), "first\n"); got != 2 {
		t.Errorf("first command ran %d times, want 2:\n%s", got, b)
	}
	if got := strings.Count(string(b), "second\n"); got != 3 {
		t.Errorf("second command ran %d times, want 3:\n%s", got, b)
	}
	var r struct {
		WallNs  int64 `json:"wall_ns"`
		Exit    int   `json:"exit"`
		Started bool  `json:"started"`
	}
	if b, err = os.ReadFile(result); err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil || r.WallNs <= 0 || r.Exit != 0 || !r.Started {
		t.Errorf("result %+v, %v", r, err)
	}

	// A failing second command is the helper's exit status.
	cmd = exec.Command(bin, "-o", result, "-with", "1", "--", "true", "---", "sh", "-c", "exit 3")
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("exit with a failing second command: %v, want status 3", err)
	}
	// -with without a second command is a usage error.
	cmd = exec.Command(bin, "-o", result, "-with", "1", "--", "true")
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("-with without ---: %v, want status 2", err)
	}
}

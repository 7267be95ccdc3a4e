package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"

	"gopkg.in/yaml.v3"
)

// The configuration file: every key is a flag name (database, dir, table,
// lock-timeout or lock_timeout, notify, …) with the flag's value; lists give
// repeatable flags several values. environments.NAME (picked by --env)
// overrides the top level; targets.NAME (at the top level or in an
// environment) names one database of a system of services. Values may use
// ${VAR}, expanded from the environment: secrets stay there. Flags win over
// RUNWAY_* variables, which win over the file.
const defaultConfigFile = "runway.yaml"

// configFile is runway.yaml, parsed.
type configFile struct {
	path string
	top  map[string]any
	envs map[string]map[string]any
}

func loadConfig(path string, explicit bool) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, usagef("configuration file: %v", err)
	}
	var raw map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return nil, usagef("%s: %v", path, err)
	}
	c := &configFile{path: path, top: map[string]any{}, envs: map[string]map[string]any{}}
	for k, v := range raw {
		if k != "environments" {
			c.top[k] = v
			continue
		}
		envs, ok := v.(map[string]any)
		if !ok {
			return nil, usagef("%s: environments must map names (stg, prod …) to settings", path)
		}
		for name, e := range envs {
			m, ok := e.(map[string]any)
			if !ok && e != nil {
				return nil, usagef("%s: environments.%s must be a map of settings", path, name)
			}
			c.envs[name] = m
		}
	}
	// targets maps names to settings, at the top level and in each
	// environment. Any other shape would be dropped, and the run would go
	// to the embedded SQLite default and report success there.
	for _, where := range append([]string{""}, sortedKeys(c.envs)...) {
		m, at := c.top, ""
		if where != "" {
			m, at = c.envs[where], "environments."+where+"."
		}
		if t, ok := m["targets"]; ok {
			if _, isMap := t.(map[string]any); !isMap && t != nil {
				return nil, usagef("%s: %stargets must map names (orders, billing …) to settings, each with its database", path, at)
			}
		}
	}
	return c, nil
}

// settings merges the top level, the environment and the target, in that order.
func (c *configFile) settings(env, target string) (map[string]any, error) {
	out := map[string]any{}
	targets := map[string]any{}
	merge := func(m map[string]any) {
		for k, v := range m {
			if k == "targets" {
				if t, ok := v.(map[string]any); ok {
					for name, tv := range t {
						targets[name] = tv
					}
				}
				continue
			}
			out[k] = v
		}
	}
	merge(c.top)
	if env != "" {
		// A file without environments leaves --env a label, as without a
		// file; one that has some refuses a name it lacks (a typo would
		// otherwise run with the top-level settings).
		e, ok := c.envs[env]
		if !ok && len(c.envs) > 0 {
			return nil, usagef("--env %s: %s has no environments.%s (it has: %s)", env, c.path, env, strings.Join(sortedKeys(c.envs), ", "))
		}
		merge(e)
	}
	if target != "" {
		t, ok := targets[target]
		if !ok {
			return nil, usagef("--target %s: %s has no targets.%s%s (it has: %s)", target, c.path, target, inEnv(env), strings.Join(sortedKeys(targets), ", "))
		}
		m, ok := t.(map[string]any)
		if !ok {
			return nil, usagef("%s: targets.%s must be a map of settings", c.path, target)
		}
		merge(m)
	}
	return out, nil
}

// targets lists the target names for env.
func (c *configFile) targets(env string) []string {
	names := map[string]bool{}
	for _, m := range []map[string]any{c.top, c.envs[env]} {
		if t, ok := m["targets"].(map[string]any); ok {
			for n := range t {
				names[n] = true
			}
		}
	}
	return sortedKeys(names)
}

func inEnv(env string) string {
	if env == "" {
		return ""
	}
	return " (environment " + env + ")"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// varRef is compiled on first use (a configuration file's values), not at
// every start.
var varRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`) })

// expand replaces ${VAR} with the variable's value; an unset variable is an
// error, so a missing secret never becomes an empty password.
func expand(s string, getenv func(string) string) (string, error) {
	var missing []string
	re := varRef()
	out := re.ReplaceAllStringFunc(s, func(m string) string {
		name := re.FindStringSubmatch(m)[1]
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("${%s} is not set in the environment", strings.Join(missing, "}, ${"))
	}
	return out, nil
}

// applyConfig sets every flag not given on the command line or in the
// environment from the configuration file.
func (a *app) applyConfig(fs *flag.FlagSet) error {
	path, explicit := a.g.config, a.g.set["config"]
	if path == "" {
		path = defaultConfigFile
	}
	c, err := loadConfig(path, explicit)
	if err != nil || c == nil {
		if err == nil && a.g.target != "" {
			return usagef("--target %s: there is no %s to define targets", a.g.target, path)
		}
		return err
	}
	a.cfgFile = c
	settings, err := c.settings(a.g.env, a.g.target)
	if err != nil {
		return err
	}
	// The notification settings first: a later setting that fails (a
	// database URL whose ${PASSWORD} is unset) is then reported to the
	// file's webhooks too.
	keys := sortedKeys(settings)
	sort.SliceStable(keys, func(i, j int) bool { return notifySetting(keys[i]) && !notifySetting(keys[j]) })
	for _, k := range keys {
		name := strings.ReplaceAll(k, "_", "-")
		switch name {
		case "to", "steps", "all", "yes":
			// What one run reverts or applies, and whether down asks first,
			// is chosen on the command line: in a file every command and
			// every later run would inherit it (down --yes, down --to).
			return usagef("%s: %s is a choice for one run, not a setting: give --%s on the command line", path, k, name)
		}
		f := fs.Lookup(name)
		if f == nil && knownSetting(name) {
			continue // another command's flag (strict: for up, check: for status): not this command's business
		}
		if f == nil || len(name) == 1 || name == "config" {
			return usagef("%s: unknown setting %q (settings are flag names: database, dir, table, lock-timeout, notify …)", path, k)
		}
		if a.g.set[name] {
			continue
		}
		values := []any{settings[k]}
		switch v := settings[k].(type) {
		case []any:
			if !repeatable[name] {
				return usagef("%s: %s takes one value, not a list", path, k)
			}
			values = v
		case map[string]any:
			return usagef("%s: %s takes a value, not a map of settings", path, k)
		}
		for _, v := range values {
			s, err := expand(fmt.Sprint(v), a.getenv)
			if err != nil {
				return usagef("%s: %s: %v", path, k, err)
			}
			if err := setValue(fs, f, s); err != nil {
				return usagef("%s: %s: %v", path, k, err)
			}
		}
		a.g.set[name] = true
	}
	// A configuration whose databases are all targets names none by
	// itself: without --target or --all-targets the run would fall back to
	// the embedded SQLite default and report success against the wrong
	// database.
	// DATABASE_URL does not count: the platform sets it for the application,
	// and the file's targets say which databases this run is about.
	if names := c.targets(a.g.env); len(names) > 0 && a.g.target == "" && !a.g.allTargets && a.g.database == "" {
		switch a.command {
		case "new", "version", "validate": // no database needed
		default:
			return usagef("%s defines targets%s, %s, and no database besides them: choose one with --target NAME, or all of them with --all-targets",
				path, inEnv(a.g.env), strings.Join(names, ", "))
		}
	}
	return nil
}

// notifySetting reports whether the file's key k sets how runs are
// notified (notify, notify_on, notify-required …).
func notifySetting(k string) bool { return strings.HasPrefix(k, "notify") }

// repeatable names the flags that take several values: given a list in
// the file, each item is one value.
var repeatable = map[string]bool{"notify": true}

// knownSetting reports whether name is a flag of some command: a file shared
// by every command may set one command's flag (strict for up) without
// breaking the others.
func knownSetting(name string) bool {
	for _, c := range commands {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		if c.flags != nil {
			c.flags(fs)
		}
		if fs.Lookup(name) != nil {
			return true
		}
	}
	return false
}

// allTargets runs the command once per target of the environment, one after
// another or --parallel at once, and prints one combined report; the exit
// code is the first non-zero one in target order.
func (a *app) allTargets(ctx context.Context, args []string) int {
	if a.cfgFile == nil {
		fmt.Fprintf(a.stderr, "runway: --all-targets needs a %s with targets\n", defaultConfigFile)
		return exitUsage
	}
	names := a.cfgFile.targets(a.g.env)
	if len(names) == 0 {
		fmt.Fprintf(a.stderr, "runway: --all-targets: %s defines no targets%s\n", a.cfgFile.path, inEnv(a.g.env))
		return exitUsage
	}
	rest := withoutFlags(args, "all-targets", "parallel", "target")
	// exec starts COMMAND once, after every target is ready; until then
	// stdout is COMMAND's, so Runway's own lines all go to stderr.
	execing := a.command == cmdExec.name
	stdout := a.stdout
	if execing {
		a.stdout = a.stderr
		defer func() { a.stdout = stdout }()
	}
	type result struct {
		code     int
		out, err bytes.Buffer
		sub      *app
	}
	results := make([]*result, len(names))
	parallel := a.g.parallel
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, name := range names {
		results[i] = &result{}
		run := func() {
			r := results[i]
			sub := newApp(strings.NewReader(""), &r.out, &r.err, hideAllTargets(a.getenv), false, a.stderrTerminal && parallel == 1)
			sub.secrets = a.secrets // one scrubber for the whole run
			sub.deferExec = execing
			r.sub = sub
			// --all-targets=false on the command line outranks an
			// all_targets: true in the file, which each run reads again.
			r.code = sub.run(ctx, append([]string{"--target", name, "--all-targets=false"}, rest...))
		}
		if parallel == 1 {
			run()
			if !a.g.json {
				a.printTarget(name, &results[i].out, &results[i].err)
			}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			run()
		}()
	}
	wg.Wait()
	code := exitOK
	combined := map[string]json.RawMessage{}
	failed := 0
	var failures []string
	for i, name := range names {
		r := results[i]
		if r.code != exitOK {
			failed++
			failures = append(failures, fmt.Sprintf("%s (exit %d)", name, r.code))
			if code == exitOK {
				code = r.code
			}
		}
		if a.g.json {
			combined[name] = json.RawMessage(bytes.TrimSpace(r.out.Bytes()))
			a.labelLines(name, &r.err)
		} else if parallel > 1 {
			a.printTarget(name, &r.out, &r.err)
		}
	}
	if a.g.json {
		status := "ok"
		if failed > 0 {
			status = "failed"
		}
		body, _ := json.Marshal(map[string]any{"targets": combined, "status": status, "env": a.g.env, "failed": failed})
		fmt.Fprintf(a.stdout, "%s\n", body)
	} else if failed > 0 {
		fmt.Fprintf(a.stdout, "%d target(s), %d failed: %s\n", len(names), failed, strings.Join(failures, ", "))
	} else {
		fmt.Fprintf(a.stdout, "%d target(s), %d failed\n", len(names), failed)
	}
	if !execing || code != exitOK {
		return code
	}
	first := results[0].sub
	if first.execPath == "" {
		return code // exec stopped without a command (help)
	}
	fmt.Fprintf(a.stderr, "runway: schema ready on %d target(s); starting %s\n", len(names), first.execArgs[0])
	if err := syscall.Exec(first.execPath, first.execArgs, os.Environ()); err != nil {
		fmt.Fprintf(a.stderr, "runway: exec %s: %v\n", first.execPath, err)
		return exitFailed
	}
	return exitOK // not reached
}

// printTarget writes one target's output under its name; each line it wrote
// on stderr (progress, warnings, its error) is labelled with the name too,
// since stderr is often read apart from stdout (a CI log, a terminal).
func (a *app) printTarget(name string, out, errb *bytes.Buffer) {
	fmt.Fprintf(a.stdout, "== %s\n", name)
	a.labelLines(name, errb)
	a.stdout.Write(out.Bytes())
}

// labelLines writes what a target wrote on stderr, each line under its name.
func (a *app) labelLines(name string, errb *bytes.Buffer) {
	for line := range strings.Lines(errb.String()) {
		fmt.Fprintf(a.stderr, "[%s] %s", name, line)
	}
}

// hideAllTargets keeps a per-target run from fanning out again.
func hideAllTargets(getenv func(string) string) func(string) string {
	return func(k string) string {
		switch k {
		case "RUNWAY_ALL_TARGETS", "RUNWAY_PARALLEL", "RUNWAY_TARGET":
			return ""
		}
		return getenv(k)
	}
}

// withoutFlags drops the named flags (and their values) from args.
func withoutFlags(args []string, names ...string) []string {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !drop[name] {
			out = append(out, a)
			continue
		}
		if (name == "parallel" || name == "target") && !hasValue {
			i++ // its value
		}
	}
	return out
}

// Package deploy checks the container files without Docker (none runs on the development and CI
// machines): docker-compose.yml through the Compose Specification's own loader, the Dockerfile
// through BuildKit's parser, .dockerignore through the matcher docker build uses. What this does
// not cover (a real build and start) is in docs/containers.md.
package deploy

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

const nonroot = "65532" // distroless's nonroot user and group

func loadCompose(t *testing.T, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"}, cli.WithWorkingDirectory(".."), cli.WithName("opsflow"),
		cli.WithEnv(env), cli.WithInterpolation(true), cli.WithNormalization(true))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// docker-compose.yml: one build of one image for migrate, api and worker; health checks through
// "opsflow healthcheck"; restart policies; start order by health and completion.
func TestComposeFile(t *testing.T) {
	if _, err := loadCompose(t); err == nil || !strings.Contains(err.Error(), "set OPSFLOW_SECRET_KEY first") {
		t.Fatalf("without OPSFLOW_SECRET_KEY the file must refuse to load: %v", err)
	}
	p, err := loadCompose(t, "OPSFLOW_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatalf("compose loader: %v", err)
	}
	if names := p.ServiceNames(); !slices.Equal(sorted(names), []string{"api", "migrate", "postgres", "redis", "worker"}) {
		t.Fatalf("services %v", names)
	}
	svc := func(name string) types.ServiceConfig {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	migrate, api, worker := svc("migrate"), svc("api"), svc("worker")

	// Built once: only migrate builds, and api and worker run the image it tags.
	var builders []string
	for _, s := range p.Services {
		if s.Build != nil {
			builders = append(builders, s.Name)
		}
	}
	if !slices.Equal(builders, []string{"migrate"}) || migrate.Build.Context != mustAbs(t, "..") {
		t.Errorf("services that build: %v (context %v), want only migrate, from the repository root", builders, migrate.Build)
	}
	for _, s := range []types.ServiceConfig{api, worker} {
		if s.Image != migrate.Image || s.Image == "" {
			t.Errorf("%s runs image %q, want migrate's %q", s.Name, s.Image, migrate.Image)
		}
		if s.PullPolicy != types.PullPolicyNever {
			t.Errorf("%s: pull_policy %q: the image is built locally, never pulled", s.Name, s.PullPolicy)
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || !slices.Equal([]string(s.HealthCheck.Test), []string{"CMD", "opsflow", "healthcheck"}) {
			t.Errorf("%s: health check %+v, want CMD opsflow healthcheck", s.Name, s.HealthCheck)
		}
		if s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: restart %q", s.Name, s.Restart)
		}
		want := map[string]string{"migrate": types.ServiceConditionCompletedSuccessfully, "postgres": types.ServiceConditionHealthy, "redis": types.ServiceConditionHealthy}
		for dep, cond := range want {
			if d, ok := s.DependsOn[dep]; !ok || d.Condition != cond {
				t.Errorf("%s depends on %s: %+v, want %s", s.Name, dep, d, cond)
			}
		}
		for _, k := range []string{"DATABASE_URL", "OPSFLOW_SECRET_KEY"} {
			if v := s.Environment[k]; v == nil || *v == "" {
				t.Errorf("%s has no %s", s.Name, k)
			}
		}
		if v := s.Environment["REDIS_URL"]; v == nil || !strings.HasPrefix(*v, "redis://redis:6379") {
			t.Errorf("%s: REDIS_URL %v", s.Name, v)
		}
		// Metrics on their own port, reachable inside the compose network only (never the API's port).
		if v := s.Environment["OPSFLOW_METRICS_ADDR"]; v == nil || *v != ":9090" {
			t.Errorf("%s: OPSFLOW_METRICS_ADDR %v, want :9090", s.Name, v)
		}
		for _, p := range s.Ports {
			if p.Target == 9090 {
				t.Errorf("%s publishes its metrics port to the host", s.Name)
			}
		}
	}
	if !slices.Equal([]string(api.Command), []string{"serve", "-worker=false"}) || !slices.Equal([]string(worker.Command), []string{"worker"}) {
		t.Errorf("commands: api %v, worker %v", api.Command, worker.Command)
	}
	// opsflow healthcheck asks OPSFLOW_HEALTH_ADDR when set (the worker), else OPSFLOW_ADDR (:8080, the image's).
	if v := worker.Environment["OPSFLOW_HEALTH_ADDR"]; v == nil || *v == "" {
		t.Error("the worker sets no OPSFLOW_HEALTH_ADDR: its health check would have nothing to ask")
	}
	if v := api.Environment["OPSFLOW_HEALTH_ADDR"]; v != nil {
		t.Error("api must not set OPSFLOW_HEALTH_ADDR: its health check asks the API's port")
	}
	if len(api.Ports) != 1 || api.Ports[0].Target != 8080 {
		t.Errorf("api ports %+v", api.Ports)
	}
	if migrate.Restart != types.RestartPolicyOnFailure || migrate.HealthCheck == nil || !migrate.HealthCheck.Disable {
		t.Errorf("migrate: restart %q, health check %+v (a one-off: on-failure, no health check)", migrate.Restart, migrate.HealthCheck)
	}
	if !slices.Equal([]string(migrate.Command), []string{"migrate"}) {
		t.Errorf("migrate command %v", migrate.Command)
	}
	for _, name := range []string{"postgres", "redis"} {
		if s := svc(name); s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s: health check %+v, restart %q", name, s.HealthCheck, s.Restart)
		}
	}
}

// instruction is one Dockerfile instruction: its keyword, flags and arguments.
type instruction struct {
	cmd   string
	flags []string
	args  []string
}

func parseDockerfile(t *testing.T) (stages [][]instruction) {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("BuildKit's Dockerfile parser: %v", err)
	}
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToUpper(n.Value), flags: n.Flags}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s before FROM", in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	return stages
}

// The Dockerfile: a static binary, run as the non-root user, who owns /data; a health check
// through the binary itself.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and runtime", len(stages))
	}
	build, runtime := stages[0], stages[1]
	var buildCmd string
	for _, in := range build {
		if in.cmd == "RUN" && strings.Contains(strings.Join(in.args, " "), "go build") {
			buildCmd = strings.Join(in.args, " ")
		}
	}
	if !strings.Contains(buildCmd, "CGO_ENABLED=0") || !strings.Contains(buildCmd, "./cmd/opsflow") {
		t.Errorf("build step %q: want a static (CGO_ENABLED=0) build of ./cmd/opsflow", buildCmd)
	}
	if from := runtime[0].args; len(from) == 0 || !strings.HasPrefix(from[0], "gcr.io/distroless/static") {
		t.Errorf("runtime image %v", from)
	}

	var user, dataOwner, healthcheck, entrypoint string
	env := map[string]string{}
	for _, in := range runtime {
		switch in.cmd {
		case "USER":
			user = in.args[0]
		case "COPY":
			if in.args[len(in.args)-1] == "/data" || in.args[len(in.args)-1] == "/data/" {
				for _, f := range in.flags {
					if o, ok := strings.CutPrefix(f, "--chown="); ok {
						dataOwner = o
					}
				}
			}
		case "ENV":
			for i := 0; i+1 < len(in.args); i += 3 { // name, value, "=" marker: BuildKit's ENV triples
				env[in.args[i]] = in.args[i+1]
			}
		case "HEALTHCHECK":
			healthcheck = strings.Join(in.args, " ")
		case "ENTRYPOINT":
			entrypoint = strings.Join(in.args, " ")
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u != nonroot && u != "nonroot" {
		t.Errorf("USER %q: want distroless's non-root user %s", user, nonroot)
	}
	if o, _, _ := strings.Cut(dataOwner, ":"); o != nonroot {
		t.Errorf("/data is copied with --chown=%q: want the non-root user %s to own it, so SQLite can write there", dataOwner, nonroot)
	}
	if env["OPSFLOW_DATA_DIR"] != "/data" {
		t.Errorf("OPSFLOW_DATA_DIR %q, want /data", env["OPSFLOW_DATA_DIR"])
	}
	if !strings.Contains(healthcheck, "CMD") || !strings.Contains(healthcheck, "opsflow healthcheck") {
		t.Errorf("HEALTHCHECK %q: want CMD [\"opsflow\", \"healthcheck\"]", healthcheck)
	}
	if entrypoint != "opsflow" {
		t.Errorf("ENTRYPOINT %q", entrypoint)
	}
}

// .dockerignore keeps dependencies, local data and secrets out of the build context, and keeps
// what the build needs (the built builder UI is embedded in the binary).
func TestDockerignore(t *testing.T) {
	f, err := os.Open("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	m, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(p string) bool {
		ok, err := m.MatchesOrParentMatches(p)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, p := range []string{"node_modules/x/index.js", "builder-ui/node_modules/react/index.js", "data/secret.key", "data/opsflow.db",
		"data/opsflow.db-wal", "secret.key", "somewhere/else/secret.key", "local.db", ".git/HEAD", "builder-ui/e2e-output/shot.png", "e2e-output/x"} {
		if !excluded(p) {
			t.Errorf("%s is sent to the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/opsflow/main.go", "engine/engine.go", "builder-ui/dist/index.html", "builder-ui/embed.go",
		"examples/templates/new-lead-score-assign.json", "engine/flow/flow.schema.json"} {
		if excluded(p) {
			t.Errorf("%s is left out of the build context, but the build needs it", p)
		}
	}
	// Whatever is in this checkout now (a local run's data/, node_modules): secrets and databases stay out.
	filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel("..", path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && (rel == ".git" || d.Name() == "node_modules") {
			if !excluded(rel) {
				t.Errorf("%s is sent to the build context", rel)
			}
			return filepath.SkipDir
		}
		if !d.IsDir() && (d.Name() == "secret.key" || strings.HasSuffix(d.Name(), ".db")) && !excluded(rel) {
			t.Errorf("%s is sent to the build context", rel)
		}
		if strings.HasPrefix(rel, "builder-ui/dist/") && !d.IsDir() && excluded(rel) {
			t.Errorf("%s is left out of the build context, but the binary embeds it", rel)
		}
		return nil
	})
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

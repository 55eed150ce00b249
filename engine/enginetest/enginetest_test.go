package enginetest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// With CI set and no Postgres/Redis variables, a test asking for every backend fails instead of
// quietly testing only the embedded one. The test runs itself in a child process to see that.
func TestCIRequiresPostgres(t *testing.T) {
	if os.Getenv("ENGINETEST_CHILD") != "" {
		for _, b := range Backends() {
			Config(t, b)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCIRequiresPostgres$", "-test.v")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPSFLOW_TEST_") && !strings.HasPrefix(kv, "CI=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "ENGINETEST_CHILD=1", "CI=true")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "set OPSFLOW_TEST_DATABASE_URL and OPSFLOW_TEST_REDIS_ADDR") {
		t.Errorf("under CI without Postgres: err %v, output:\n%s", err, out)
	}
	cmd = exec.Command(os.Args[0], "-test.run=^TestCIRequiresPostgres$")
	cmd.Env = append(env, "ENGINETEST_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("outside CI without Postgres the embedded backend alone passes: %v\n%s", err, out)
	}
}

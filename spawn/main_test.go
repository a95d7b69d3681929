package spawn

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as its own spawner process, exactly
// as cmd/wsplex does, so New uses the spawner path in these tests.
func TestMain(m *testing.M) {
	MaybeRunSpawner()
	os.Exit(m.Run())
}

// TestDirectPath runs the common tests again on the direct fork path, the
// fallback (and the only path off Linux).
func TestDirectPath(t *testing.T) {
	forceDirect = true
	defer func() { forceDirect = false }()
	for name, f := range map[string]func(*testing.T){
		"Echo":           TestEchoThroughCat,
		"Environment":    TestEnvironmentIsExactlyTheSpec,
		"ProcessGroup":   TestOwnProcessGroup,
		"StartFailure":   TestStartFailureLeavesNothing,
		"LadderAndGroup": TestLadderSignalsTheGroup,
	} {
		t.Run(name, f)
	}
}

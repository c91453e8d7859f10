package localengine

import (
	"strings"
	"testing"
)

// TestMissingMotoServerSaysHowToInstall hides moto_server.
func TestMissingMotoServerSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := motoFallbackBin
	motoFallbackBin = "/nonexistent/moto_server"
	defer func() { motoFallbackBin = saved }()
	_, err := StartMoto()
	if err == nil || !strings.Contains(err.Error(), MotoHint) {
		t.Errorf("%v, want the hint %q", err, MotoHint)
	}
}

package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/idadmin/api/shared/httpapi"
)

// TestLambdaFromEnvWiresTheSettings: a settings route's function is built
// with WithSettings, on the table's store, and refuses to start without
// it, saying why.
func TestLambdaFromEnvWiresTheSettings(t *testing.T) {
	for _, name := range []string{"LOG_LEVEL", "RETENTION_DAYS", "OPEN_INDEX_SHARDS", "DYNAMODB_ENDPOINT", "AWS_DEFAULT_REGION"} {
		t.Setenv(name, "")
	}
	t.Setenv(RuntimeAPIEnv, "127.0.0.1:9001")
	t.Setenv("TABLE_NAME", "t")
	t.Setenv("AWS_REGION", "eu-west-1")
	for _, rt := range []httpapi.Route{httpapi.GetSettings, httpapi.PutSettings, httpapi.GetSettingsHistory} {
		if _, err := lambdaFromEnv(rt, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "needs the settings service") {
			t.Errorf("%s without WithSettings: error = %v, want the missing settings service", rt.Name, err)
		}
		if h, err := lambdaFromEnv(rt, &bytes.Buffer{}, WithSettings()); err != nil || h == nil {
			t.Errorf("%s with WithSettings: %v, want a handler", rt.Name, err)
		}
	}
}

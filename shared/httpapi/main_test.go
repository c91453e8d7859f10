package httpapi_test

import (
	"testing"

	"github.com/idadmin/api/internal/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

package memstore_test

import (
	"testing"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/internal/storetest"
	"github.com/idadmin/api/shared/identification"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) identification.Store { return memstore.New() })
}

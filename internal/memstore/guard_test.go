package memstore_test

import (
	"testing"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/internal/storetest"
	"github.com/idadmin/api/shared/guard"
)

func TestGuardContract(t *testing.T) {
	storetest.RunGuard(t, func(*testing.T) guard.Store { return memstore.NewGuard() })
}

func TestStatsContract(t *testing.T) {
	storetest.RunStats(t, func(*testing.T) storetest.StatsStore { return memstore.NewGuard() })
}

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

func TestFlowContract(t *testing.T) {
	storetest.RunFlow(t, func(*testing.T) identification.Store { return memstore.New() })
}

// TestKeepingContract: the open index and TTL follow every change, and an
// extend moves them.
func TestKeepingContract(t *testing.T) {
	storetest.RunKeeping(t, func(*testing.T) storetest.Keeper { return memstore.New() })
}

// TestOraclesCoverTheLifecycle fails when the lifecycle has an action the
// hand-written oracles of storetest lack.
func TestOraclesCoverTheLifecycle(t *testing.T) {
	covered := storetest.Oracles()
	for action := range identification.Lifecycle {
		if !covered[action] {
			t.Errorf("lifecycle action %q has no row in storetest's oracles", action)
		}
	}
}

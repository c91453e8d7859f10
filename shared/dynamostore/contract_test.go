package dynamostore_test

import (
	"testing"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/storetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/webhooks"
)

// TestContract holds the DynamoDB store to the contract every Store meets
// (package storetest), on each engine; the in-memory stand-in the
// benchmarks use passes the same suite.
func TestContract(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		storetest.Run(t, func(t *testing.T) identification.Store {
			client, table, _ := enginetest.NewTable(t, e)
			return dynamostore.New(client, dynamostore.Options{Table: table})
		})
	})
}

// TestFlowContract holds the DynamoDB store to the actor side of the
// contract, on each engine.
func TestFlowContract(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		storetest.RunFlow(t, func(t *testing.T) identification.Store {
			client, table, _ := enginetest.NewTable(t, e)
			return dynamostore.New(client, dynamostore.Options{Table: table})
		})
	})
}

// TestKeepingContract: on each engine, the open index and the TTL follow
// every change, and an extend moves them.
func TestKeepingContract(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		storetest.RunKeeping(t, func(t *testing.T) storetest.Keeper {
			client, table, _ := enginetest.NewTable(t, e)
			return dynamostore.New(client, dynamostore.Options{Table: table})
		})
	})
}

// TestWebhooksContract holds the DynamoDB store's webhooks side to the
// contract every webhooks.Store meets (storetest.RunWebhooks), on each
// engine; the in-memory store the handler trees use passes the same suite.
func TestWebhooksContract(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		storetest.RunWebhooks(t, func(t *testing.T) webhooks.Store {
			client, table, _ := enginetest.NewTable(t, e)
			return dynamostore.New(client, dynamostore.Options{Table: table})
		})
	})
}

// TestSettingsContract holds the DynamoDB store's settings side to the
// contract every settings.Store meets (storetest.RunSettings), on each
// engine.
func TestSettingsContract(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		storetest.RunSettings(t, func(t *testing.T) settings.Store {
			client, table, _ := enginetest.NewTable(t, e)
			return dynamostore.New(client, dynamostore.Options{Table: table})
		})
	})
}

// TestGuardContract holds the DynamoDB store's guard side to the contract
// every guard.Store meets (storetest.RunGuard), on each engine.
func TestGuardContract(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		storetest.RunGuard(t, func(t *testing.T) guard.Store {
			client, table, _ := enginetest.NewTable(t, e)
			return dynamostore.New(client, dynamostore.Options{Table: table})
		})
	})
}

// TestStatsContract holds the DynamoDB store's statistics to the contract
// every statistics store meets (storetest.RunStats), on each engine.
func TestStatsContract(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		storetest.RunStats(t, func(t *testing.T) storetest.StatsStore {
			client, table, _ := enginetest.NewTable(t, e)
			return dynamostore.New(client, dynamostore.Options{Table: table})
		})
	})
}

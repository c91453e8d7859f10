package httpapi_test

import (
	"time"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/webhooks"
)

// memWebhooks is the webhook routes' service for a handler tree built
// without a table: endpoints in memory, secrets sealed with the fixture's
// code keys, URLs checked by egress with loopback allowed (as the dev
// server's), test events and replays queued in process on clock (time.Now
// when nil).
func memWebhooks(clock func() time.Time) *webhooks.Service {
	if clock == nil {
		clock = time.Now
	}
	check := app.WebhookURLCheck(egress.New(egress.Options{AllowLoopback: true}))
	return webhooks.NewService(memstore.NewWebhooks(), fixture.CodeKeys(), check, memqueue.New(clock), clock)
}

// memSettings is the settings routes' service for a handler tree built
// without a table: documents and their audit list in memory, on clock
// (time.Now when nil).
func memSettings(clock func() time.Time) *settings.Service {
	return settings.NewService(memstore.NewSettings(), memstore.NewGuard(), clock)
}

package app

import (
	"context"
	"time"

	"github.com/idadmin/api/shared/settings"
)

// WithSettings gives the function the settings routes' service, on the
// DynamoDB store of its table.
func WithSettings() Option {
	return func(_ context.Context, _ Config, w *wiring) error {
		w.settings = true
		return nil
	}
}

// WithSettings is d with the settings routes' service on store, the
// guard's events listed from events (now: time.Now when nil).
func (d Deps) WithSettings(store settings.Store, events settings.GuardEvents, now func() time.Time) Deps {
	d.Settings = settings.NewService(store, events, now)
	return d
}

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
// guard's events and the statistics read from records (now: time.Now
// when nil).
func (d Deps) WithSettings(store settings.Store, records settings.Records, now func() time.Time) Deps {
	d.Settings = settings.NewService(store, records, now)
	return d
}

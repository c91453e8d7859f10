package app

import (
	"context"
	"errors"
	"time"

	"github.com/idadmin/api/shared/dynamostore"
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

// WithSettings is d with the settings routes' service on store (now:
// time.Now when nil).
func (d Deps) WithSettings(store settings.Store, now func() time.Time) Deps {
	d.Settings = settings.NewService(store, now)
	return d
}

// DynamoSettings is the settings store on the DynamoDB store s, and
// whether s keeps settings. (Asked of the value rather than stated, so
// that this package builds on either side of dynamostore gaining its
// settings methods; once it has them, s is always one.)
func DynamoSettings(s *dynamostore.Store) (settings.Store, bool) {
	var v any = s
	st, ok := v.(settings.Store)
	return st, ok
}

// errNoSettingsStore: the function serves a settings route on a DynamoDB
// store that keeps no settings.
var errNoSettingsStore = errors.New("settings: the DynamoDB store does not keep settings")

// withDynamoSettings is d with the settings service on its own table.
func (d Deps) withDynamoSettings() (Deps, error) {
	st, ok := DynamoSettings(d.Dynamo)
	if !ok {
		return d, errNoSettingsStore
	}
	return d.WithSettings(st, nil), nil
}

package app

import (
	"context"
	"errors"
	"net/http"

	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// WebhookPoster is the webhook sender's Poster on c, the one client that
// reaches an organisation's URL: its failures carry egress's reason
// ("timeout", "private_address", …) as the delivery's last_error, and
// nothing of what the receiver answered.
func WebhookPoster(c *egress.Client) webhooks.Poster { return poster{c} }

type poster struct{ c *egress.Client }

func (p poster) Post(ctx context.Context, url string, headers map[string]string, body []byte) (int, error) {
	h := make(http.Header, len(headers))
	for k, v := range headers {
		h.Set(k, v)
	}
	res, err := p.c.Post(ctx, url, h, body)
	if err != nil {
		reason := egress.ReasonConnection
		var e *egress.Error
		if errors.As(err, &e) {
			reason = e.Reason
		}
		return 0, reasoned{reason: reason, err: err}
	}
	return res.StatusCode, nil
}

// reasoned is a failed attempt with the reason a delivery shows.
type reasoned struct {
	reason string
	err    error
}

func (r reasoned) Error() string  { return r.err.Error() }
func (r reasoned) Unwrap() error  { return r.err }
func (r reasoned) Reason() string { return r.reason }

// WebhookURLCheck is the registration's check of a webhook URL with c:
// egress's rules (https, no userinfo, a host that is a name or a public
// address), then one lookup of the host, every address of which must be
// public. It returns the message of a 400 at the field url ("" when the
// URL passes).
func WebhookURLCheck(c *egress.Client) webhooks.URLCheck {
	return func(ctx context.Context, raw string) string {
		err := c.CheckResolved(ctx, raw)
		if err == nil {
			return ""
		}
		var ue *egress.URLError
		if errors.As(err, &ue) {
			return ue.Reason
		}
		return "must be an https URL whose host resolves only to public addresses"
	}
}

// Publishers publishes to each of ps in turn (the events' bus, then the
// webhooks' fan-out), stopping at the first that fails: the stream record
// then fails and is handled again, and each publisher takes the repeat as
// it documents (events are de-duplicated on id and version, webhooks by
// the queue on their webhook-id).
func Publishers(ps ...identification.Publisher) identification.Publisher { return publishers(ps) }

type publishers []identification.Publisher

func (ps publishers) Publish(ctx context.Context, events []identification.Event) error {
	for _, p := range ps {
		if err := p.Publish(ctx, events); err != nil {
			return err
		}
	}
	return nil
}

// WebhookLoopbackEnv, "true" only in the dev server and tests, lets
// webhooks go to loopback addresses over http. The template never sets it.
const WebhookLoopbackEnv = "WEBHOOK_ALLOW_LOOPBACK"

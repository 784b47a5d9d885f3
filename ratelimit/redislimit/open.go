package redislimit

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// URLError reports a Redis URL that could not be used: unparsable, or a server that did
// not answer. URL is the address without its password.
type URLError struct {
	URL string // Redact(the URL given)
	Err error
}

// Error implements error.
func (e *URLError) Error() string { return fmt.Sprintf("%s: %v", e.URL, e.Err) }

// Unwrap returns the cause.
func (e *URLError) Unwrap() error { return e.Err }

// Redact returns rawURL with its password, if any, replaced by "xxxxx", for messages.
// A URL that does not parse comes back as "(unparsable URL)": it might hold a password
// anywhere.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Open returns a client for the Redis server at rawURL (redis://[[user]:password@]host
// [:port][/db], rediss:// for TLS, unix://) set up for a Limiter: timeouts of
// DefaultTimeout, no retries (the limiter falls back instead), context deadlines
// honoured; and checks with a PING that the server answers. Its errors are *URLError and
// never contain the password. The caller closes the client.
func Open(ctx context.Context, rawURL string) (*redis.Client, error) {
	redacted := Redact(rawURL)
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, &URLError{URL: redacted, Err: scrub(err, rawURL)}
	}
	opts.DialTimeout = DefaultTimeout
	opts.ReadTimeout = DefaultTimeout
	opts.WriteTimeout = DefaultTimeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	rdb := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, &URLError{URL: redacted, Err: scrub(err, rawURL)}
	}
	return rdb, nil
}

// scrub returns err with the URL's password, should it appear in err's text, replaced.
func scrub(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return fmt.Errorf("invalid URL")
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

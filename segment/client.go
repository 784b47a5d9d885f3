package segment

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Segment's regional endpoints.
const (
	EndpointUS = "https://api.segment.io"
	EndpointEU = "https://events.eu1.segmentapis.com"
)

// Defaults applied by NewClient.
const (
	DefaultTimeout = 15 * time.Second
	// MaxErrorBody is how much of a non-2xx body a StatusError keeps.
	MaxErrorBody = 512
	// maxDrain bounds how much of a response body is read to let the
	// connection be reused; a longer body closes the connection instead.
	maxDrain = 64 << 10
)

// ErrConfig is matched by errors.Is for every error NewClient and
// RegionEndpoint return.
var ErrConfig = errors.New("segment: invalid client configuration")

// RegionEndpoint returns the endpoint of a Segment region: "us" (EndpointUS)
// or "eu" (EndpointEU), case-insensitive.
func RegionEndpoint(region string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(region)) {
	case "us":
		return EndpointUS, nil
	case "eu":
		return EndpointEU, nil
	}
	return "", fmt.Errorf("%w: unknown region %q (want us or eu)", ErrConfig, region)
}

// Config configures a Client. Only WriteKey is required; every zero field
// means the default documented on it.
type Config struct {
	WriteKey   string           // required; never printed by String, errors or logs
	Endpoint   string           // "" = EndpointUS; scheme and host (and port, optional base path)
	HTTPClient *http.Client     // nil = a client with a keep-alive transport tuned for many workers
	Timeout    time.Duration    // per request, including reading the answer; 0 = DefaultTimeout
	UserAgent  string           // "" = "segloop/" + Version
	Now        func() time.Time // nil = time.Now; stamps sentAt and measures Retry-After dates
}

// String describes the configuration with the write key redacted.
func (c Config) String() string {
	return fmt.Sprintf("segment.Config{WriteKey: %s, Endpoint: %q, Timeout: %v, UserAgent: %q}",
		redacted(c.WriteKey), c.Endpoint, c.Timeout, c.UserAgent)
}

// GoString is String, so that %#v does not print the write key either.
func (c Config) GoString() string { return c.String() }

func redacted(key string) string {
	if key == "" {
		return `""`
	}
	return "[redacted]"
}

// Client sends Identify events to Segment, one HTTP attempt per call; the
// retry policy belongs to the caller (see Classify). A Client is safe for
// concurrent use by many goroutines and should be reused: it holds a pool of
// keep-alive connections. It never follows redirects, so a 3xx answer is
// returned as a *StatusError.
type Client struct {
	identifyURL string
	batchURL    string
	auth        string    // "Basic " + base64(writeKey + ":")
	scrub       *Scrubber // removes the write key from answers and transport errors
	hc          *http.Client
	timeout     time.Duration
	userAgent   string
	now         func() time.Time
	hdrAuth     []string // {auth}
	hdrUA       []string // {userAgent}
	hdrJSON     []string // {"application/json"}
}

// NewClient checks cfg and returns a Client. It fails with an error matching
// ErrConfig on an empty write key or an endpoint that is not an absolute
// http(s) URL without credentials, query or fragment. A supplied HTTPClient
// is copied (not modified) so that the copy can refuse redirects.
func NewClient(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.WriteKey) == "" {
		return nil, fmt.Errorf("%w: write key is empty", ErrConfig)
	}
	base, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative timeout %v", ErrConfig, cfg.Timeout)
	}
	c := &Client{
		identifyURL: base + "/v1/identify",
		batchURL:    base + "/v1/batch",
		auth:        "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.WriteKey+":")),
		scrub:       NewScrubber(cfg.WriteKey),
		timeout:     cfg.Timeout,
		userAgent:   cfg.UserAgent,
		now:         cfg.Now,
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = LibraryName + "/" + Version
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.hdrAuth = []string{c.auth}
	c.hdrUA = []string{c.userAgent}
	c.hdrJSON = []string{"application/json"}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		c.hc = &hc
	} else {
		c.hc = &http.Client{Transport: newTransport()}
	}
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// parseEndpoint returns the base URL for the API paths, without a trailing
// slash or "/v1". Errors never quote the raw endpoint: it might hold secrets.
func parseEndpoint(endpoint string) (string, error) {
	if endpoint == "" {
		return EndpointUS, nil
	}
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return "", fmt.Errorf("%w: endpoint is not a URL", ErrConfig)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%w: endpoint scheme must be http or https", ErrConfig)
	case u.Host == "":
		return "", fmt.Errorf("%w: endpoint has no host", ErrConfig)
	case u.User != nil:
		return "", fmt.Errorf("%w: endpoint must not carry credentials; use the write key", ErrConfig)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%w: endpoint must not have a query or fragment", ErrConfig)
	}
	path := strings.TrimRight(u.Path, "/")
	path = strings.TrimSuffix(path, "/v1")
	return u.Scheme + "://" + u.Host + path, nil
}

// String describes the client without its write key.
func (c *Client) String() string {
	return "segment.Client{endpoint: " + strings.TrimSuffix(c.identifyURL, "/v1/identify") + "}"
}

// GoString is String, so that %#v does not print the write key either.
func (c *Client) GoString() string { return c.String() }

// Identify sends one serialized event (as AppendJSON makes it) to
// POST /v1/identify, adding "sentAt". retry is the number of earlier
// attempts of this same event (0 on the first); when positive it is sent
// as X-Retry-Count. Identify makes exactly one attempt and returns the HTTP
// status: 2xx gives (status, nil); any other status a *StatusError; no
// answer at all (connection failure, reset, timeout) (0, *RequestError).
// event is copied; the caller may reuse it once Identify returns. An event
// that does not end in '}' gives (0, *ValidationError) and sends nothing.
func (c *Client) Identify(ctx context.Context, event []byte, retry int) (int, error) {
	end := len(event) - 1
	for end >= 0 && isSpace(event[end]) {
		end--
	}
	if end < 1 || event[end] != '}' {
		return 0, &ValidationError{Field: "event", Msg: "is not a serialized JSON object"}
	}
	prev := end - 1 // the last byte before the closing brace that is not space
	for prev >= 0 && isSpace(event[prev]) {
		prev--
	}
	body := getReqBody()
	b := append(body.own, event[:end]...)
	if prev >= 0 && event[prev] != '{' {
		b = append(b, ',')
	}
	b = append(b, `"sentAt":"`...)
	b = c.now().UTC().AppendFormat(b, time.RFC3339Nano)
	body.own = append(b, `"}`...)
	body.add(body.own)
	return c.post(ctx, c.identifyURL, "/v1/identify", body, retry)
}

// Batch sends serialized events (as AppendJSON makes them) in one
// POST /v1/batch body, the one AppendBatch makes, with sentAt from
// Config.Now. It does not check the size limits: group events with a Packer
// first. retry and the results are as for Identify.
//
// Batch sends the events from the caller's slices, without copying them into
// a body of its own, and the transport may still be reading them after Batch
// returns (an http.RoundTripper may go on writing a body once the answer has
// come, and it rewinds the body to resend it on a new connection). So the
// events' bytes must not be modified once they are passed, ever: pass events
// that are written once, such as AppendJSON's output in a buffer that is not
// reused. The events slice itself is not kept; the caller may reuse it as
// soon as Batch returns.
func (c *Client) Batch(ctx context.Context, events [][]byte, retry int) (int, error) {
	body := getReqBody()
	body.batch(events, c.now())
	return c.post(ctx, c.batchURL, "/v1/batch", body, retry)
}

// post makes one attempt; it takes over the caller's reference to body.
func (c *Client) post(ctx context.Context, url, path string, body *reqBody, retry int) (int, error) {
	defer body.release()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	trace := &body.trace
	if httptrace.ContextClientTrace(ctx) != nil {
		// WithClientTrace composes a caller's trace into ours by changing it: give it
		// one of its own, not the pooled one.
		trace = &httptrace.ClientTrace{GotConn: body.gotConn}
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url, nil)
	if err != nil {
		return 0, &RequestError{Path: path, Err: c.scrub.Error(err)}
	}
	req.Body = body.reader()
	req.ContentLength = int64(body.size)
	req.GetBody = func() (io.ReadCloser, error) { return body.reader(), nil }
	// The constant headers are shared, read-only slices built once in
	// NewClient (a RoundTripper must not modify its request), which saves
	// an allocation per header per request.
	h := req.Header
	h["Authorization"] = c.hdrAuth
	h["Content-Type"] = c.hdrJSON
	h["User-Agent"] = c.hdrUA
	if retry > 0 {
		h["X-Retry-Count"] = []string{strconv.Itoa(retry)}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, &RequestError{Path: path, Err: c.scrub.Error(err), Stale: body.reused.Load() && ctx.Err() == nil && !isTimeout(err)}
	}
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		_ = resp.Body.Close()
		return code, nil
	}
	se := &StatusError{Code: code}
	if ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
		se.RetryAfter = ra
	}
	head := make([]byte, MaxErrorBody)
	n, _ := io.ReadFull(resp.Body, head)
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
	se.Body = c.scrub.Cut(head[:n], MaxErrorBody) // cut first, then scrubbed: see Scrubber
	return code, se
}

// isTimeout reports whether err is a timeout (of an http.Client, a dialer, a
// deadline).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

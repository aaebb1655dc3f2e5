package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Retry schedule and limits of plugin calls; documented in docs/memory-backfill.md.
const (
	requestTimeout   = 60 * time.Second // a batch of 500 may wait on embedding
	healthTimeout    = 5 * time.Second
	retryFirst       = 250 * time.Millisecond
	retryMaxInterval = 10 * time.Second
	retryGiveUp      = 2 * time.Minute // per request, across its attempts
	maxAnswerBytes   = 64 << 20        // a lookup answer carries up to 1000 contents
)

// A Client speaks the memory plugin's HTTP API (v1 plus the batch, lookup,
// created_at and metadata extensions). Transient failures — transport errors,
// 5xx, 429 — are retried with exponential backoff; a 4xx is final at once, as
// the contract makes every validation problem a 4xx.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	// newBackOff gives each request its retry schedule; tests shorten it.
	newBackOff func() backoff.BackOff
}

// NewClient returns a client of the plugin at base, sending token (if not
// empty) as a Bearer token.
func NewClient(base *url.URL, token string) *Client {
	return &Client{
		base:  base,
		token: token,
		http:  &http.Client{Timeout: requestTimeout},
		newBackOff: func() backoff.BackOff {
			return backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(retryFirst),
				backoff.WithMaxInterval(retryMaxInterval),
				backoff.WithMaxElapsedTime(retryGiveUp))
		},
	}
}

// A PluginError is a non-2xx answer: the status and the contract's error body.
type PluginError struct {
	Status  int
	Code    string
	Message string
}

func (e *PluginError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("plugin answered %d", e.Status)
	}
	return fmt.Sprintf("plugin answered %d %s: %s", e.Status, e.Code, e.Message)
}

// transient says whether an answer may succeed when the request is repeated.
func (e *PluginError) transient() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// Health is the plugin's /v1/health answer.
type Health struct {
	Status       string   `json:"status"`
	Version      string   `json:"version"`
	Capabilities []string `json:"capabilities"`
}

// Has reports whether the plugin advertises capability c.
func (h Health) Has(c string) bool {
	for _, x := range h.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Health asks the plugin once, without retries: a plugin that is down when the
// run starts is the operator's to fix, not something to wait out.
func (c *Client) Health(ctx context.Context) (Health, error) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	var h Health
	err := c.do(ctx, http.MethodGet, "/v1/health", nil, &h)
	if err != nil {
		return h, err
	}
	if h.Status != "ok" {
		return h, fmt.Errorf("plugin reports status %q", h.Status)
	}
	return h, nil
}

// A MemoryWrite is the plugin's MemoryWrite with the extension fields the
// backfill sends; Namespace is set only inside a batch.
type MemoryWrite struct {
	Namespace string   `json:"namespace,omitempty"`
	ID        string   `json:"id"`
	Content   string   `json:"content"`
	Kind      string   `json:"kind"`
	Source    string   `json:"source"`
	CreatedAt string   `json:"created_at,omitempty"`
	Metadata  Metadata `json:"metadata"`
}

// Metadata is what the backfill records about a memory's v1 origin.
type Metadata struct {
	Source      string `json:"source"` // always "v1-backfill"
	Scope       string `json:"v1_scope"`
	WorkspaceID string `json:"v1_workspace_id"`
	Namespace   string `json:"v1_namespace,omitempty"` // only when the column exists
}

// An ItemResult is one entry of a batch answer.
type ItemResult struct {
	Index     int    `json:"index"`
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Status    string `json:"status"` // "written" or "error"
	Code      string `json:"code"`
	Message   string `json:"message"`
}

// WriteBatch writes up to 500 memories in one request and returns one result
// per memory, in order.
func (c *Client) WriteBatch(ctx context.Context, items []MemoryWrite) ([]ItemResult, error) {
	var answer struct {
		Results []ItemResult `json:"results"`
	}
	if err := c.retry(ctx, http.MethodPost, "/v1/memories/batch", map[string]any{"memories": items}, &answer); err != nil {
		return nil, err
	}
	if len(answer.Results) != len(items) {
		return nil, fmt.Errorf("plugin answered %d results for a batch of %d", len(answer.Results), len(items))
	}
	for i, r := range answer.Results {
		if r.Index != i {
			return nil, fmt.Errorf("plugin answered result %d with index %d", i, r.Index)
		}
	}
	return answer.Results, nil
}

// Write commits one memory into namespace ns.
func (c *Client) Write(ctx context.Context, ns string, m MemoryWrite) error {
	m.Namespace = ""
	return c.retry(ctx, http.MethodPost, "/v1/namespaces/"+url.PathEscape(ns)+"/memories", m, nil)
}

// A Memory is the plugin's read shape, as far as verification needs it.
type Memory struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	Content   string `json:"content"`
}

// Lookup returns the memories with the given ids (up to 1000); ids the plugin
// does not have are absent.
func (c *Client) Lookup(ctx context.Context, ids []string) ([]Memory, error) {
	var answer struct {
		Memories []Memory `json:"memories"`
	}
	if err := c.retry(ctx, http.MethodPost, "/v1/memories/lookup", map[string]any{"ids": ids}, &answer); err != nil {
		return nil, err
	}
	return answer.Memories, nil
}

// retry sends a request until it succeeds, fails for good, or the schedule
// gives up. The body is encoded once and replayed.
func (c *Client) retry(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", method, path, err)
	}
	op := func() error {
		err := c.do(ctx, method, path, body, out)
		var pe *PluginError
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			// Whatever this attempt got, the run is over: say so first.
			return backoff.Permanent(fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err))
		case errors.As(err, &pe) && !pe.transient():
			return backoff.Permanent(err)
		case errors.Is(err, errBadAnswer):
			return backoff.Permanent(err)
		}
		return err // transport error or 5xx: worth another try
	}
	return backoff.Retry(op, backoff.WithContext(c.newBackOff(), ctx))
}

// errBadAnswer marks a 2xx answer that does not decode: a plugin bug that a
// retry will not fix.
var errBadAnswer = errors.New("plugin answer does not decode")

// do sends one request. body nil means no body.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	u := c.base.JoinPath(path)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" && path != "/v1/health" { // health is open; the token goes nowhere it is not needed
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		pe := &PluginError{Status: resp.StatusCode}
		var eb struct{ Code, Message string }
		if json.Unmarshal(data, &eb) == nil {
			pe.Code, pe.Message = eb.Code, eb.Message
		}
		// /v1/health answers 503 with the health shape, not an error body.
		if pe.Code == "" && path == "/v1/health" && resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(data), `"degraded"`) {
			pe.Code, pe.Message = "unavailable", "plugin reports status degraded"
		}
		return pe
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w: %v", method, path, errBadAnswer, err)
	}
	return nil
}

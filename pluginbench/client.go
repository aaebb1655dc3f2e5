package pluginbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client speaks the contract to one server, as the workspace server does:
// JSON over a keep-alive HTTP connection per worker.
type client struct {
	base string
	http *http.Client
}

func newClient(base string, conns int) *client {
	return &client{base: base, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true},
	}}
}

// do sends body as JSON and reads the answer, which must have status want.
func (c *client) do(ctx context.Context, method, path string, body any, want int) ([]byte, error) {
	var data []byte // nil body: none
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, out)
	}
	return out, nil
}

func (c *client) putNamespace(ctx context.Context, name, kind string) error {
	_, err := c.do(ctx, http.MethodPut, "/v1/namespaces/"+name, map[string]string{"kind": kind}, http.StatusOK)
	return err
}

func memoryBodyOf(m Memory) map[string]any {
	return map[string]any{"id": m.ID, "content": m.Content, "kind": "fact", "source": "agent", "pin": m.Pin}
}

func (c *client) commit(ctx context.Context, m Memory) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/namespaces/"+m.Namespace+"/memories", memoryBodyOf(m), http.StatusCreated)
	return err
}

// commitBatch writes memories through POST /v1/memories/batch and checks that
// every one was written.
func (c *client) commitBatch(ctx context.Context, ms []Memory) error {
	items := make([]map[string]any, len(ms))
	for i, m := range ms {
		items[i] = memoryBodyOf(m)
		items[i]["namespace"] = m.Namespace
	}
	data, err := c.do(ctx, http.MethodPost, "/v1/memories/batch", map[string]any{"memories": items}, http.StatusOK)
	if err != nil {
		return err
	}
	var answer struct {
		Results []struct {
			Status, Message string
		}
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return fmt.Errorf("batch answer: %w", err)
	}
	for i, r := range answer.Results {
		if r.Status != "written" {
			return fmt.Errorf("batch item %d: %s %s", i, r.Status, r.Message)
		}
	}
	return nil
}

// search returns the ids recalled for q, at most 10 of them. The platform's
// plugin answers {"memories": null} for no match; that is empty too.
func (c *client) search(ctx context.Context, q Query) ([]string, error) {
	data, err := c.do(ctx, http.MethodPost, "/v1/search",
		map[string]any{"namespaces": q.Scope, "query": q.Text, "limit": 10}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Memories []struct{ ID string }
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, fmt.Errorf("search answer: %w", err)
	}
	ids := make([]string, len(answer.Memories))
	for i, m := range answer.Memories {
		ids[i] = m.ID
	}
	return ids, nil
}

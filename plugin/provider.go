package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// providerEmbedder calls an OpenAI-compatible embeddings API
// (POST <base>/embeddings {"model","input":[...]}). Every failure wraps
// errEmbeddingUnavailable, which the handlers answer with 503 `unavailable`.
type providerEmbedder struct {
	endpoint string // full URL of the embeddings route
	model    string
	apiKey   string
	dim      int
	timeout  time.Duration
	client   *http.Client
}

// maxProviderResponse bounds what is read from the provider: 500 texts of
// 2000 numbers written out in full fit comfortably.
const maxProviderResponse = 64 << 20

func newProviderEmbedder(c Config) *providerEmbedder {
	endpoint := strings.TrimRight(c.EmbeddingURL, "/")
	if !strings.HasSuffix(endpoint, "/embeddings") {
		endpoint += "/embeddings"
	}
	return &providerEmbedder{
		endpoint: endpoint, model: c.EmbeddingModel, apiKey: c.EmbeddingAPIKey, dim: c.EmbeddingDim,
		timeout: c.EmbeddingTimeout,
		client:  &http.Client{Timeout: c.EmbeddingTimeout},
	}
}

func (p *providerEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	body, err := json.Marshal(map[string]any{"model": p.model, "input": texts})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, p.fail("%v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.apiKey)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, p.fail("no answer within %s", p.timeout)
		}
		return nil, p.fail("%v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse))
	if err != nil {
		return nil, p.fail("reading the answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, p.fail("answered %s: %.300s", resp.Status, bytes.TrimSpace(data))
	}
	var answer struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, p.fail("answer is not an embeddings response: %v", err)
	}
	out := make([][]float32, len(texts))
	for _, d := range answer.Data {
		if d.Index < 0 || d.Index >= len(texts) {
			return nil, p.fail("answer has an embedding for input %d of %d", d.Index, len(texts))
		}
		if len(d.Embedding) != p.dim {
			return nil, p.fail("model %q returns %d-dimensional embeddings but %s is %d", p.model, len(d.Embedding), EnvEmbeddingDim, p.dim)
		}
		out[d.Index] = d.Embedding
	}
	for i, e := range out {
		if e == nil {
			return nil, p.fail("answer lacks the embedding of input %d", i)
		}
	}
	return out, nil
}

func (p *providerEmbedder) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", errEmbeddingUnavailable, p.endpoint, fmt.Sprintf(format, args...))
}

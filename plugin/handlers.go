package plugin

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// healthTimeout bounds the database check of /v1/health, as the contract asks.
const healthTimeout = 2 * time.Second

type healthAnswer struct {
	Status       string   `json:"status"`
	Version      string   `json:"version"`
	Capabilities []string `json:"capabilities"`
	// Adoption is there while this process adopts the platform plugin's
	// tables, and after, with state "done" (see FinishAdoption).
	Adoption *AdoptionStatus `json:"adoption,omitempty"`
	// VectorIndex is the background vector indexer's backlog (vectorindex.go).
	VectorIndex *VectorIndexStatus `json:"vector_index,omitempty"`
}

func (s *Service) health(r *http.Request, _ []byte) (int, any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := s.store.ping(ctx); err != nil {
		s.log.Warn("health check: database does not answer", zap.Error(err))
		return http.StatusServiceUnavailable, healthAnswer{"degraded", Version, capabilities, s.adopt.status.Load(), s.vindex.status()}, nil
	}
	return http.StatusOK, healthAnswer{"ok", Version, capabilities, s.adopt.status.Load(), s.vindex.status()}, nil
}

// pathNamespace returns the {name} of the path, validated.
func pathNamespace(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if why := checkNamespace(name); why != "" {
		e := badRequest("namespace name " + why)
		e.Details = map[string]any{"field": "name"}
		return "", e
	}
	return name, nil
}

func (s *Service) putNamespace(r *http.Request, body []byte) (int, any, error) {
	name, err := pathNamespace(r)
	if err != nil {
		return 0, nil, err
	}
	in, aerr := decodeNamespacePut(body)
	if aerr != nil {
		return 0, nil, aerr
	}
	n, err := s.store.putNamespace(r.Context(), name, in)
	return http.StatusOK, n, err
}

func (s *Service) patchNamespace(r *http.Request, body []byte) (int, any, error) {
	name, err := pathNamespace(r)
	if err != nil {
		return 0, nil, err
	}
	in, aerr := decodeNamespacePatch(body)
	if aerr != nil {
		return 0, nil, aerr
	}
	n, err := s.store.patchNamespace(r.Context(), name, in)
	return http.StatusOK, n, err
}

func (s *Service) deleteNamespace(r *http.Request, _ []byte) (int, any, error) {
	name, err := pathNamespace(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, s.store.deleteNamespace(r.Context(), name)
}

type commitAnswer struct {
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
}

func (s *Service) commitMemory(r *http.Request, body []byte) (int, any, error) {
	name, err := pathNamespace(r)
	if err != nil {
		return 0, nil, err
	}
	in, aerr := decodeMemoryWrite(body, name, s.cfg.EmbeddingDim)
	if aerr != nil {
		return 0, nil, aerr
	}
	if err := s.embedMissing(r.Context(), []*memoryInput{&in}); err != nil {
		return 0, nil, err
	}
	if err := s.store.commit(r.Context(), in); err != nil {
		return 0, nil, err
	}
	s.vindex.wrote()
	return http.StatusCreated, commitAnswer{in.ID, in.Namespace}, nil
}

// embedMissing embeds, in one call, the content of every item that came
// without an embedding.
func (s *Service) embedMissing(ctx context.Context, items []*memoryInput) error {
	var texts []string
	var need []*memoryInput
	for _, in := range items {
		if in.Embedding == nil {
			texts = append(texts, in.Content)
			need = append(need, in)
		}
	}
	if len(need) == 0 {
		return nil
	}
	vecs, err := s.embed.Embed(ctx, texts)
	if err != nil {
		return err
	}
	for i, in := range need {
		in.Embedding = vecs[i]
	}
	return nil
}

type memoriesAnswer struct {
	Memories []memory `json:"memories"`
}

func (s *Service) search(r *http.Request, body []byte) (int, any, error) {
	in, aerr := decodeSearch(body, s.cfg.EmbeddingDim)
	if aerr != nil {
		return 0, nil, aerr
	}
	plan := s.plan(r.Context(), in)
	ms, err := s.store.search(r.Context(), s.store.pool, plan)
	if ms == nil {
		ms = []memory{}
	}
	return http.StatusOK, memoriesAnswer{ms}, err
}

// plan decides what a search runs: a listing, a substring listing (a
// 1-character query), or hybrid recall with the relevance floor.
func (s *Service) plan(ctx context.Context, in searchInput) searchPlan {
	plan := searchPlan{namespaces: in.Namespaces, kinds: in.Kinds, limit: in.Limit, vector: in.Embedding,
		minSimilarity: *s.cfg.MinSimilarity}
	query := strings.TrimSpace(in.Query)
	switch {
	case utf8.RuneCountInString(query) == 1 && plan.vector == nil:
		// One character means nothing to rank by: the memories containing
		// it, listed, as the platform's plugin answers.
		plan.substring = query
	case len(in.Words) > 0:
		plan.tsquery = tsqueryText(in.Words)
		if plan.vector == nil {
			vecs, err := s.embed.Embed(ctx, []string{in.Query})
			if err != nil {
				// Recall still answers from the full-text list: better
				// than failing the agent's whole turn.
				s.log.Warn("search without the vector list", zap.Error(err))
			} else {
				plan.vector = vecs[0]
				if s.similarityTo != nil {
					plan.similarity = s.similarityTo(in.Query)
				}
			}
		}
	}
	return plan
}

func (s *Service) deleteMemory(r *http.Request, body []byte) (int, any, error) {
	id, ok := parseUUID(r.PathValue("id"))
	if !ok {
		return 0, nil, fieldError("id", "in the path is not a UUID")
	}
	ns, aerr := decodeMemoryDelete(body)
	if aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusNoContent, nil, s.store.deleteMemory(r.Context(), id, ns)
}

// batchResult is one item's outcome: written, or an error with the code and
// message a single commit would have answered.
type batchResult struct {
	Index     int    `json:"index"`
	ID        string `json:"id,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Status    string `json:"status"`
	Code      string `json:"code,omitempty"`
	Message   string `json:"message,omitempty"`
}

func (s *Service) commitBatch(r *http.Request, body []byte) (int, any, error) {
	raw, aerr := decodeBatch(body)
	if aerr != nil {
		return 0, nil, aerr
	}
	results := make([]batchResult, len(raw))
	var valid []memoryInput
	var at []int // index in the request of each valid item
	for i, item := range raw {
		in, aerr := decodeBatchItem(item, s.cfg.EmbeddingDim)
		if aerr != nil {
			results[i] = batchResult{Index: i, Status: "error", Code: aerr.Code, Message: aerr.Message}
			continue
		}
		valid = append(valid, in)
		at = append(at, i)
	}
	if len(valid) > 0 {
		ptrs := make([]*memoryInput, len(valid))
		for i := range valid {
			ptrs[i] = &valid[i]
		}
		if err := s.embedMissing(r.Context(), ptrs); err != nil {
			return 0, nil, err
		}
		if err := s.store.commitBatch(r.Context(), valid); err != nil {
			return 0, nil, err
		}
		s.vindex.wrote()
		for j, in := range valid {
			i := at[j]
			results[i] = batchResult{Index: i, ID: in.ID, Namespace: in.Namespace, Status: "written"}
		}
	}
	return http.StatusOK, map[string][]batchResult{"results": results}, nil
}

func (s *Service) lookup(r *http.Request, body []byte) (int, any, error) {
	ids, aerr := decodeLookup(body)
	if aerr != nil {
		return 0, nil, aerr
	}
	ms, err := s.store.lookup(r.Context(), ids)
	return http.StatusOK, memoriesAnswer{ms}, err
}

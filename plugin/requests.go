package plugin

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The request shapes of the contract and its extensions, and their
// validation into the inputs the store takes.

// Bounds on what one request may carry.
const (
	maxContentBytes = 256 << 10 // well under PostgreSQL's 1 MiB tsvector limit
	maxQueryBytes   = 8 << 10
	maxQueryWords   = 64
	maxLimit        = 100
	defaultLimit    = 20
	maxBatchItems   = 500
	maxLookupIDs    = 1000
)

// body names a request body in messages.
const body = "request body"

// memoryWrite is MemoryWrite; Namespace is only for batch items.
type memoryWrite struct {
	Namespace   *string         `json:"namespace"`
	Content     string          `json:"content"`
	Kind        string          `json:"kind"`
	Source      string          `json:"source"`
	ExpiresAt   *string         `json:"expires_at"`
	Propagation json.RawMessage `json:"propagation"`
	Pin         bool            `json:"pin"`
	Embedding   []float64       `json:"embedding"`
	ID          *string         `json:"id"`
	CreatedAt   *string         `json:"created_at"`
	Metadata    json.RawMessage `json:"metadata"`
}

type namespacePut struct {
	Kind      string          `json:"kind"`
	ExpiresAt *string         `json:"expires_at"`
	Metadata  json.RawMessage `json:"metadata"`
}

// namespacePatch keeps the raw fields: present-but-null clears a field, absent
// leaves it alone.
type namespacePatch struct {
	ExpiresAt json.RawMessage `json:"expires_at"`
	Metadata  json.RawMessage `json:"metadata"`
}

type searchRequest struct {
	Namespaces []string  `json:"namespaces"`
	Query      string    `json:"query"`
	Kinds      []string  `json:"kinds"`
	Limit      int       `json:"limit"`
	Embedding  []float64 `json:"embedding"`
}

type memoryDelete struct {
	RequestedByNamespace string `json:"requested_by_namespace"`
}

type batchRequest struct {
	Memories []json.RawMessage `json:"memories"`
}

type lookupRequest struct {
	IDs []string `json:"ids"`
}

// decodeMemoryWrite decodes and validates a MemoryWrite body for namespace ns.
func decodeMemoryWrite(data []byte, ns string, dim int) (memoryInput, *apiError) {
	var w memoryWrite
	if err := decodeStrict(data, body, &w); err != nil {
		return memoryInput{}, err
	}
	// A "namespace" in the body is not part of MemoryWrite: the path names
	// the namespace, and the field is ignored like any other unknown one.
	return w.validate(ns, dim)
}

// decodeBatchItem decodes one item of a batch, which names its namespace.
func decodeBatchItem(data []byte, dim int) (memoryInput, *apiError) {
	var w memoryWrite
	if err := decodeStrict(data, "item", &w); err != nil {
		return memoryInput{}, err
	}
	if w.Namespace == nil {
		return memoryInput{}, fieldError("namespace", "is required in a batch item")
	}
	return w.validate(*w.Namespace, dim)
}

func (w memoryWrite) validate(ns string, dim int) (memoryInput, *apiError) {
	in := memoryInput{Namespace: ns, Content: w.Content, Kind: w.Kind, Source: w.Source, Pin: w.Pin}
	if err := checkNamespaceField("namespace", ns); err != nil {
		return in, err
	}
	switch {
	case strings.TrimSpace(w.Content) == "":
		return in, fieldError("content", "is required and must not be blank")
	case len(w.Content) > maxContentBytes:
		return in, fieldError("content", fmt.Sprintf("is %d bytes long; at most %d are allowed", len(w.Content), maxContentBytes))
	case strings.ContainsRune(w.Content, 0):
		return in, fieldError("content", "must not contain NUL characters")
	}
	if err := oneOf("kind", w.Kind, memoryKinds); err != nil {
		return in, err
	}
	if err := oneOf("source", w.Source, memorySources); err != nil {
		return in, err
	}
	var err *apiError
	if in.ExpiresAt, err = parseTime("expires_at", w.ExpiresAt); err != nil {
		return in, err
	}
	if in.CreatedAt, err = parseTime("created_at", w.CreatedAt); err != nil {
		return in, err
	}
	if in.Propagation, err = objectOrNull("propagation", w.Propagation); err != nil {
		return in, err
	}
	if in.Metadata, err = objectOrNull("metadata", w.Metadata); err != nil {
		return in, err
	}
	if in.Embedding, err = checkEmbedding("embedding", w.Embedding, dim); err != nil {
		return in, err
	}
	if w.ID == nil {
		in.ID = newUUID()
	} else if id, ok := parseUUID(*w.ID); ok {
		in.ID = id
	} else {
		return in, fieldError("id", fmt.Sprintf("%q is not a UUID such as 0b7f6c1e-3d0a-4a51-9a43-5b2f3c4d5e6f", *w.ID))
	}
	return in, nil
}

// namespaceInput is a validated PUT or PATCH of a namespace.
type namespaceInput struct {
	Kind                    string
	ExpiresAt               *time.Time
	Metadata                []byte
	SetExpires, SetMetadata bool // PATCH: which fields were present
}

func decodeNamespacePut(data []byte) (namespaceInput, *apiError) {
	var p namespacePut
	if err := decodeStrict(data, body, &p); err != nil {
		return namespaceInput{}, err
	}
	in := namespaceInput{Kind: p.Kind, SetExpires: true, SetMetadata: true}
	if err := oneOf("kind", p.Kind, namespaceKinds); err != nil {
		return in, err
	}
	var err *apiError
	if in.ExpiresAt, err = parseTime("expires_at", p.ExpiresAt); err != nil {
		return in, err
	}
	in.Metadata, err = objectOrNull("metadata", p.Metadata)
	return in, err
}

func decodeNamespacePatch(data []byte) (namespaceInput, *apiError) {
	var p namespacePatch
	if err := decodeStrict(data, body, &p); err != nil {
		return namespaceInput{}, err
	}
	in := namespaceInput{SetExpires: p.ExpiresAt != nil, SetMetadata: p.Metadata != nil}
	if !in.SetExpires && !in.SetMetadata {
		return in, badRequest("patch has no fields set")
	}
	var err *apiError
	if in.ExpiresAt, err = parseRawTime("expires_at", p.ExpiresAt); err != nil {
		return in, err
	}
	in.Metadata, err = objectOrNull("metadata", p.Metadata)
	return in, err
}

// searchInput is a validated SearchRequest.
type searchInput struct {
	Namespaces []string
	Words      []string // the query's words, for full-text search
	Kinds      []string
	Limit      int
	Embedding  []float32 // the client's, or nil
	Query      string
}

func decodeSearch(data []byte, dim int) (searchInput, *apiError) {
	var r searchRequest
	if err := decodeStrict(data, body, &r); err != nil {
		return searchInput{}, err
	}
	in := searchInput{Namespaces: r.Namespaces, Kinds: r.Kinds, Limit: r.Limit, Query: r.Query}
	// No upper bound on the count: the workspace server's admin export sends
	// every namespace of an organisation in one search, and the body size
	// limit bounds the list.
	if len(r.Namespaces) == 0 {
		return in, badRequest("namespaces is empty")
	}
	// The fields' names are formatted only for an error: every recall
	// checks its three or so namespaces.
	for i, ns := range r.Namespaces {
		if why := checkNamespace(ns); why != "" {
			return in, fieldError(fmt.Sprintf("namespaces[%d]", i), why)
		}
	}
	for i, k := range r.Kinds {
		if !slices.Contains(memoryKinds, k) {
			return in, oneOf(fmt.Sprintf("kinds[%d]", i), k, memoryKinds)
		}
	}
	switch {
	case r.Limit < 0 || r.Limit > maxLimit:
		return in, fieldError("limit", fmt.Sprintf("is %d; it must be from 0 to %d (0 means %d)", r.Limit, maxLimit, defaultLimit))
	case r.Limit == 0:
		in.Limit = defaultLimit
	}
	switch {
	case len(r.Query) > maxQueryBytes:
		return in, fieldError("query", fmt.Sprintf("is %d bytes long; at most %d are allowed", len(r.Query), maxQueryBytes))
	case strings.ContainsRune(r.Query, 0):
		return in, fieldError("query", "must not contain NUL characters")
	}
	in.Words = strings.Fields(r.Query)
	if len(in.Words) > maxQueryWords {
		in.Words = in.Words[:maxQueryWords]
	}
	var err *apiError
	in.Embedding, err = checkEmbedding("embedding", r.Embedding, dim)
	return in, err
}

func decodeMemoryDelete(data []byte) (string, *apiError) {
	var d memoryDelete
	if err := decodeStrict(data, body, &d); err != nil {
		return "", err
	}
	return d.RequestedByNamespace, checkNamespaceField("requested_by_namespace", d.RequestedByNamespace)
}

// decodeBatch returns the raw items; each is decoded on its own so that one
// bad item is reported in its result instead of failing the batch.
func decodeBatch(data []byte) ([]json.RawMessage, *apiError) {
	var b batchRequest
	if err := decodeStrict(data, body, &b); err != nil {
		return nil, err
	}
	if n := len(b.Memories); n < 1 || n > maxBatchItems {
		return nil, fieldError("memories", fmt.Sprintf("has %d items; a batch has 1 to %d", n, maxBatchItems))
	}
	return b.Memories, nil
}

func decodeLookup(data []byte) ([]string, *apiError) {
	var l lookupRequest
	if err := decodeStrict(data, body, &l); err != nil {
		return nil, err
	}
	if n := len(l.IDs); n < 1 || n > maxLookupIDs {
		return nil, fieldError("ids", fmt.Sprintf("has %d ids; a lookup has 1 to %d", n, maxLookupIDs))
	}
	ids := make([]string, len(l.IDs))
	for i, raw := range l.IDs {
		id, ok := parseUUID(raw)
		if !ok {
			return nil, fieldError(fmt.Sprintf("ids[%d]", i), fmt.Sprintf("%q is not a UUID", raw))
		}
		ids[i] = id
	}
	return ids, nil
}

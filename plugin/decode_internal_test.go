package plugin

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

const fuzzDim = 4

// FuzzDecode feeds arbitrary bodies to every request decoder: none may panic,
// a refusal is always a 400 bad_request with a message, and whatever is
// accepted satisfies the contract's rules. Its seed corpus runs in every
// `go test`; `make test` also fuzzes it briefly.
func FuzzDecode(f *testing.F) {
	seeds := []struct {
		kind uint8
		body string
	}{
		{0, `{"content":"hello","kind":"fact","source":"agent"}`},
		{0, `{"content":"x","kind":"summary","source":"user","pin":true,"expires_at":"2030-01-01T00:00:00Z","propagation":{"a":[1]},"embedding":[1,0,0,0],"id":"0b7f6c1e-3d0a-4a51-9a43-5b2f3c4d5e6f","created_at":"2020-01-01T00:00:00.5+02:00","metadata":{}}`},
		{0, `{"content":"  ","kind":"fact","source":"agent"}`},
		{0, `{"content":"a\u0000","kind":"fact","source":"agent"}`},
		{0, `{"content":"x","kind":"fact","source":"agent","embedding":[1e39,0,0,0]}`},
		{0, `{"content":"x","kind":"fact","source":"agent","embedding":[0,0,0,0]}`},
		{0, `{"content":"x","kind":"fact","source":"agent","metadata":"str"}`},
		{0, "{\"content\":\"\xff\"}"},
		{0, `{"content":"x"}{"content":"y"}`},
		{0, `null`},
		{0, ``},
		{1, `{"namespace":"org:1","content":"x","kind":"fact","source":"agent"}`},
		{1, `{"namespace":"BAD","content":"x","kind":"fact","source":"agent"}`},
		{2, `{"kind":"workspace","expires_at":null,"metadata":{"k":"v"}}`},
		{2, `{"kind":"planet"}`},
		{3, `{"expires_at":"2030-01-01T00:00:00Z"}`},
		{3, `{"metadata":null}`},
		{3, `{}`},
		{3, `{"expires_at":5}`},
		{4, `{"namespaces":["workspace:a","team:b"],"query":"deploy keys","kinds":["fact"],"limit":5,"embedding":[0,1,0,0]}`},
		{4, `{"namespaces":[],"limit":1000}`},
		{4, `{"namespaces":["a:b"],"limit":-1}`},
		{4, `{"namespaces":["a:b"],"query":"` + strings.Repeat("w ", 100) + `"}`},
		{5, `{"requested_by_namespace":"workspace:a"}`},
		{6, `{"memories":[{"namespace":"org:1"},3,null]}`},
		{6, `{"memories":[]}`},
		{7, `{"ids":["0B7F6C1E-3D0A-4A51-9A43-5B2F3C4D5E6F","x"]}`},
		{7, `{"ids":["0b7f6c1e-3d0a-4a51-9a43-5b2f3c4d5e6f"]}`},
	}
	for _, s := range seeds {
		f.Add(s.kind, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		var err *apiError
		switch kind % 8 {
		case 0:
			var in memoryInput
			in, err = decodeMemoryWrite(data, "workspace:fuzz", fuzzDim)
			if err == nil {
				checkMemoryInput(t, in)
			}
		case 1:
			var in memoryInput
			in, err = decodeBatchItem(data, fuzzDim)
			if err == nil {
				checkMemoryInput(t, in)
			}
		case 2:
			var in namespaceInput
			in, err = decodeNamespacePut(data)
			if err == nil && !slices.Contains(namespaceKinds, in.Kind) {
				t.Fatalf("accepted namespace kind %q", in.Kind)
			}
		case 3:
			var in namespaceInput
			in, err = decodeNamespacePatch(data)
			if err == nil && !in.SetExpires && !in.SetMetadata {
				t.Fatal("accepted a patch without fields")
			}
		case 4:
			var in searchInput
			in, err = decodeSearch(data, fuzzDim)
			if err == nil {
				checkSearchInput(t, in)
			}
		case 5:
			var ns string
			ns, err = decodeMemoryDelete(data)
			if err == nil && checkNamespace(ns) != "" {
				t.Fatalf("accepted namespace %q", ns)
			}
		case 6:
			var items []json.RawMessage
			items, err = decodeBatch(data)
			if err == nil && (len(items) < 1 || len(items) > maxBatchItems) {
				t.Fatalf("accepted a batch of %d", len(items))
			}
			for _, item := range items {
				if in, ierr := decodeBatchItem(item, fuzzDim); ierr == nil {
					checkMemoryInput(t, in)
				}
			}
		case 7:
			var ids []string
			ids, err = decodeLookup(data)
			for _, id := range ids {
				if canon, ok := parseUUID(id); !ok || canon != id {
					t.Fatalf("accepted id %q", id)
				}
			}
		}
		if err != nil && (err.Status != 400 || err.Code != "bad_request" || err.Message == "") {
			t.Fatalf("refusal %+v is not a 400 bad_request with a message", err)
		}
	})
}

func checkMemoryInput(t *testing.T, in memoryInput) {
	t.Helper()
	switch {
	case strings.TrimSpace(in.Content) == "" || len(in.Content) > maxContentBytes || strings.ContainsRune(in.Content, 0):
		t.Fatalf("accepted content %q", in.Content)
	case !slices.Contains(memoryKinds, in.Kind) || !slices.Contains(memorySources, in.Source):
		t.Fatalf("accepted kind %q source %q", in.Kind, in.Source)
	case checkNamespace(in.Namespace) != "":
		t.Fatalf("accepted namespace %q", in.Namespace)
	}
	if canon, ok := parseUUID(in.ID); !ok || canon != in.ID {
		t.Fatalf("id %q is not a canonical UUID", in.ID)
	}
	if in.Embedding != nil {
		if len(in.Embedding) != fuzzDim {
			t.Fatalf("accepted an embedding of %d", len(in.Embedding))
		}
		for _, x := range in.Embedding {
			if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
				t.Fatalf("accepted embedding value %v", x)
			}
		}
	}
	if in.Metadata != nil && (!json.Valid(in.Metadata) || in.Metadata[0] != '{') {
		t.Fatalf("accepted metadata %s", in.Metadata)
	}
	if in.Propagation != nil && !json.Valid(in.Propagation) {
		t.Fatalf("accepted propagation %s", in.Propagation)
	}
}

func checkSearchInput(t *testing.T, in searchInput) {
	t.Helper()
	if len(in.Namespaces) == 0 || in.Limit < 1 || in.Limit > maxLimit || len(in.Words) > maxQueryWords {
		t.Fatalf("accepted search %+v", in)
	}
	for _, ns := range in.Namespaces {
		if checkNamespace(ns) != "" {
			t.Fatalf("accepted namespace %q", ns)
		}
	}
	for _, k := range in.Kinds {
		if !slices.Contains(memoryKinds, k) {
			t.Fatalf("accepted kind %q", k)
		}
	}
	if strings.ContainsRune(in.Query, 0) {
		t.Fatal("accepted a NUL in the query")
	}
}

package plugin

import (
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"testing"
)

func TestTheBuiltInEmbedder(t *testing.T) {
	e := hashEmbedder{dim: 256}
	cos := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	v := e.embed("Staging deploy keys are rotated every Tuesday")
	var norm float64
	for _, x := range v {
		norm += float64(x) * float64(x)
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Errorf("norm² = %v; want 1", norm)
	}
	if !slices.Equal(v, e.embed("Staging deploy keys are rotated every Tuesday")) {
		t.Error("the same text embeds differently")
	}
	near := cos(v, e.embed("every tuesday we rotate the staging deployment keys"))
	far := cos(v, e.embed("the office coffee machine is broken again"))
	if near < 0.4 || far > 0.2 || near <= far {
		t.Errorf("similarity to a near-duplicate %.2f, to an unrelated text %.2f", near, far)
	}
	for _, text := range []string{"!!!", "the", "a b c", "日本語のテキスト", "x"} {
		if cos(e.embed(text), e.embed(text)) < 0.99 {
			t.Errorf("%q embeds to a zero vector", text)
		}
	}
	if tiny := (hashEmbedder{dim: 1}).embed("ab ba"); tiny[0] == 0 {
		t.Error("a one-dimensional embedding is zero")
	}
}

// The built-in embedder as it was first written, string-keyed maps and all:
// stored vectors and the relevance floor depend on its exact values, which
// the faster code must reproduce bit for bit.
func referenceFeatures(text string) map[string]float64 {
	f := map[string]float64{}
	for _, w := range contentWords(text) {
		f["w:"+w]++
		r := []rune("^" + w + "$")
		for i := 0; i+3 <= len(r); i++ {
			f["g:"+string(r[i:i+3])] += trigramWeight
		}
	}
	return f
}

func referenceEmbed(dim int, text string) []float32 {
	v := make([]float64, dim)
	f := referenceFeatures(text)
	for _, feature := range slices.Sorted(maps.Keys(f)) {
		h := fnv.New64a()
		h.Write([]byte(feature))
		sum, weight := h.Sum64(), f[feature]
		if sum>>63 == 1 {
			weight = -weight
		}
		v[(sum&(1<<63-1))%uint64(dim)] += weight
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	if norm == 0 {
		v[0], norm = 1, 1
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dim)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

func referenceSimilarity(query, content string) float64 {
	q, c := referenceFeatures(query), referenceFeatures(content)
	var dot, nq, nc float64
	for k, x := range q {
		dot += x * c[k]
		nq += x * x
	}
	for _, x := range c {
		nc += x * x
	}
	if nq == 0 || nc == 0 {
		return 0
	}
	return dot / math.Sqrt(nq*nc)
}

func TestTheEmbedderKeepsItsValuesBitForBit(t *testing.T) {
	texts := []string{"", "!!!", "the", "a b c", "x", "日本語のテキスト", "ÉCOLE école İstanbul straße",
		"invalid \xff\xfe utf-8 \xc3", "tab\tsep\nlines", "rotate rotated rotating rotation",
		"Staging deploy keys are rotated every Tuesday", "every tuesday we rotate the staging deployment keys",
		"emoji 🙂🙂 mixed with text", "x:*A &|! it's a\\b",
		"nul\x00byte DEL\x7fchar 42 The THE the", "go go go gopher GOPHERS gopher"}
	texts = append(texts, loadCorpus(t, 2000).memories...)
	e := hashEmbedder{dim: 256}
	for _, text := range texts {
		if got, want := e.embed(text), referenceEmbed(256, text); !slices.Equal(got, want) {
			t.Fatalf("embed(%q) differs from the reference", text)
		}
	}
	if got, want := e.similarity(texts[20], texts[21]), referenceSimilarity(texts[20], texts[21]); got != want {
		t.Fatalf("similarity = %v; the reference gives %v", got, want)
	}
	for i, query := range texts[:200] {
		sim := e.similarityTo(query)
		for _, content := range texts[i%7:][:300] {
			if got, want := sim(content), referenceSimilarity(query, content); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("similarity(%q, %q) = %v; the reference gives %v", query, content, got, want)
			}
		}
	}
}

// BenchmarkSimilarity measures what recall spends re-ranking one query's
// vector candidates: 40 similarities of corpus lines to one query.
func BenchmarkSimilarity(b *testing.B) {
	c := loadCorpus(b, 2000)
	e := hashEmbedder{dim: 256}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sim := e.similarityTo(c.query(i))
		for _, content := range c.memories[(i*40)%1960:][:40] {
			sim(content)
		}
	}
}

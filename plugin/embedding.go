package plugin

import (
	"context"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode"
)

// An embedder turns texts into vectors of the configured dimension. The plugin
// owns embedding generation: clients may send an embedding, but need not.
type embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// hashEmbedder is the built-in embedder: no model file, no network, the same
// vector for the same text on every machine. It hashes features of the text
// into signed buckets ("feature hashing") and L2-normalises the sum:
//   - each word that is not a stop word (weight 1), so shared words count;
//   - each character trigram of those words with boundary marks (weight 0.5),
//     so inflections and near-spellings ("rotate"/"rotated") still overlap.
//
// Cosine similarity of two such vectors approximates their feature overlap: a
// near-duplicate phrasing lands close, an unrelated text near zero. It knows no
// synonyms; an OpenAI-compatible provider does that better.
type hashEmbedder struct{ dim int }

func (h hashEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = h.embed(t)
	}
	return out, nil
}

const trigramWeight = 0.5

// features returns the weighted features of text (see hashEmbedder).
func features(text string) map[string]float64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	content := words[:0:0]
	for _, w := range words {
		if !stopWords[w] {
			content = append(content, w)
		}
	}
	if len(content) == 0 {
		// Only stop words, or only punctuation: use what there is.
		content = words
		if len(content) == 0 {
			content = strings.Fields(text)
		}
	}
	f := map[string]float64{}
	for _, w := range content {
		f["w:"+w]++
		r := []rune("^" + w + "$")
		for i := 0; i+3 <= len(r); i++ {
			f["g:"+string(r[i:i+3])] += trigramWeight
		}
	}
	return f
}

func (h hashEmbedder) embed(text string) []float32 {
	v := make([]float64, h.dim)
	f := features(text)
	// In a fixed order: float sums depend on it, and the same text must give
	// the same vector bit for bit.
	for _, feature := range slices.Sorted(maps.Keys(f)) {
		h.add(v, feature, f[feature])
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	if norm == 0 {
		// Features cancelled out (or the dimension is tiny): any fixed
		// non-zero vector keeps cosine distance defined.
		v[0], norm = 1, 1
	}
	norm = math.Sqrt(norm)
	out := make([]float32, h.dim)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// similarity is the cosine similarity of the two texts' features before
// hashing. The hashed vectors' cosine approximates it, with noise: in 256
// buckets a short text's few features collide with some of any other text's,
// and over thousands of memories the best such accidental match of a query
// that shares nothing with them reaches 0.3 to 0.5 (docs/benchmarks.md). The
// relevance floor is therefore applied to this exact value, which is 0 for
// texts that share no word and no trigram.
func (hashEmbedder) similarity(query, content string) float64 {
	q, c := features(query), features(content)
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

// add hashes feature into a bucket; one hash bit chooses the sign, so that
// collisions cancel in expectation instead of piling up.
func (h hashEmbedder) add(v []float64, feature string, weight float64) {
	f := fnv.New64a()
	f.Write([]byte(feature))
	sum := f.Sum64()
	if sum>>63 == 1 {
		weight = -weight
	}
	v[(sum&(1<<63-1))%uint64(h.dim)] += weight
}

// stopWords carry no meaning of their own; counting them would make every two
// English sentences look alike.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be been but by can did do does for from had has have
		he her his i if in into is it its me my no not of on or our she so than that the their them then
		there these they this to was we were what when where which who why will with you your`) {
		m[w] = true
	}
	return m
}()

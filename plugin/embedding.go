package plugin

import (
	"bytes"
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
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

// contentWords returns the words whose features a text has (see
// hashEmbedder): its lower-cased words that are not stop words; with only
// stop words, those; with only punctuation, the text's whitespace-separated
// fields as written.
func contentWords(text string) []string {
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
	return content
}

// A featureSet holds the weighted features of a text (see hashEmbedder), each
// once, in a canonical order: the words' ("w:" + word, weight 1 per
// occurrence) sorted, and the trigrams' ("g:" + 3 runes, weight 0.5 per
// occurrence) sorted by id. A trigram's id packs its three runes, 21 bits
// each, so ids are equal exactly when the trigrams are, and order like the
// trigrams' UTF-8 strings. The slices are reused from text to text.
type featureSet struct {
	words []wordFeature
	grams []gramFeature
	norm2 float64 // Σ weight²
}

type wordFeature struct {
	word   string
	weight float64
}

type gramFeature struct {
	id     uint64
	weight float64
}

func gramID(a, b, c rune) uint64 { return uint64(a)<<42 | uint64(b)<<21 | uint64(c) }

// gramRunes unpacks a trigram id.
func gramRunes(id uint64) [3]rune {
	return [3]rune{rune(id >> 42), rune(id >> 21 & (1<<21 - 1)), rune(id & (1<<21 - 1))}
}

// reset fills f with the features of text.
//
// Every weight is a multiple of 0.5, so every weight, square, product and sum
// of them here and in similarity is a multiple of 0.25 far below 2^50: exact
// in float64, whatever the order of the additions.
func (f *featureSet) reset(text string) {
	f.words, f.grams, f.norm2 = f.words[:0], f.grams[:0], 0
	for _, w := range contentWords(text) {
		f.words = append(f.words, wordFeature{w, 1})
		// The trigrams of "^" + w + "$".
		a, b := rune(-1), '^'
		for _, r := range w {
			if a >= 0 {
				f.grams = append(f.grams, gramFeature{gramID(a, b, r), trigramWeight})
			}
			a, b = b, r
		}
		if a >= 0 {
			f.grams = append(f.grams, gramFeature{gramID(a, b, '$'), trigramWeight})
		}
	}
	slices.SortFunc(f.words, func(x, y wordFeature) int { return strings.Compare(x.word, y.word) })
	slices.SortFunc(f.grams, func(x, y gramFeature) int { return cmp.Compare(x.id, y.id) })
	f.words = mergeSorted(f.words, func(x, y wordFeature) bool { return x.word == y.word },
		func(x *wordFeature, y wordFeature) { x.weight += y.weight })
	f.grams = mergeSorted(f.grams, func(x, y gramFeature) bool { return x.id == y.id },
		func(x *gramFeature, y gramFeature) { x.weight += y.weight })
	for _, w := range f.words {
		f.norm2 += w.weight * w.weight
	}
	for _, g := range f.grams {
		f.norm2 += g.weight * g.weight
	}
}

// mergeSorted folds runs of equal neighbours of sorted s into their first.
func mergeSorted[T any](s []T, equal func(x, y T) bool, fold func(into *T, x T)) []T {
	out := s[:0]
	for _, x := range s {
		if n := len(out); n > 0 && equal(out[n-1], x) {
			fold(&out[n-1], x)
			continue
		}
		out = append(out, x)
	}
	return out
}

// dot returns Σ weight·weight over the features f and g share.
func (f *featureSet) dot(g *featureSet) float64 {
	var d float64
	for i, j := 0, 0; i < len(f.words) && j < len(g.words); {
		switch c := strings.Compare(f.words[i].word, g.words[j].word); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			d += f.words[i].weight * g.words[j].weight
			i++
			j++
		}
	}
	for i, j := 0, 0; i < len(f.grams) && j < len(g.grams); {
		switch x, y := f.grams[i].id, g.grams[j].id; {
		case x < y:
			i++
		case x > y:
			j++
		default:
			d += f.grams[i].weight * g.grams[j].weight
			i++
			j++
		}
	}
	return d
}

// embedScratch is what embedding one text needs besides its answer, kept
// from text to text (every recall embeds its query).
type embedScratch struct {
	v    []float64
	f    featureSet
	name []byte
}

var embedScratches = sync.Pool{New: func() any { return new(embedScratch) }}

func (h hashEmbedder) embed(text string) []float32 {
	sc := embedScratches.Get().(*embedScratch)
	defer embedScratches.Put(sc)
	if cap(sc.v) < h.dim {
		sc.v = make([]float64, h.dim)
	}
	v := sc.v[:h.dim]
	clear(v)
	f := &sc.f
	f.reset(text)
	// In a fixed order, the features' names' ("g:..." before "w:...",
	// each sorted): float sums depend on the order, and the same text must
	// give the same vector bit for bit.
	name := sc.name[:0]
	defer func() { sc.name = name[:0] }()
	for _, g := range f.grams {
		name = append(name[:0], "g:"...)
		for _, r := range gramRunes(g.id) {
			name = utf8.AppendRune(name, r)
		}
		h.add(v, name, g.weight)
	}
	for _, w := range f.words {
		h.add(v, append(append(name[:0], "w:"...), w.word...), w.weight)
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
func (h hashEmbedder) similarity(query, content string) float64 {
	return h.similarityTo(query)(content)
}

// similarityTo returns the similarity of content to query, with the query's
// features computed once: recall measures every vector candidate against the
// same query. The function reuses its buffers: one goroutine at a time.
func (hashEmbedder) similarityTo(query string) func(content string) float64 {
	var q featureSet
	q.reset(query)
	var table gramTable
	table.reset(len(q.grams))
	for _, g := range q.grams {
		table.add(g.id, g.weight)
	}
	qHashes := make([]uint64, len(q.words))
	for i, w := range q.words {
		qHashes[i] = wordHash(w.word)
	}
	return func(content string) float64 {
		if q.norm2 == 0 {
			return 0
		}
		m := measures.Get().(*contentMeasure)
		defer measures.Put(m)
		dot, norm2, ok, ascii := m.ascii.measure(&q, qHashes, content)
		if !ascii {
			dot, norm2, ok = m.measure(&q, &table, content)
		}
		if !ok { // a text of stop words or punctuation only: the general way
			m.slow.reset(content)
			dot, norm2 = q.dot(&m.slow), m.slow.norm2
		}
		if norm2 == 0 {
			return 0
		}
		return dot / math.Sqrt(q.norm2*norm2)
	}
}

// measures keeps contentMeasures' buffers from recall to recall.
var measures = sync.Pool{New: func() any { return new(contentMeasure) }}

// contentMeasure computes a text's features' dot product with a query's and
// their squared norm without building a featureSet: the lower-cased words go
// into one reused buffer, and trigrams are counted in a reused hash table
// instead of being sorted. The sums are the same (see featureSet.reset).
type contentMeasure struct {
	ascii asciiMeasure
	grams gramTable
	lower []byte
	words [][]byte
	slow  featureSet
}

// measure returns the dot product of text's features with q's (whose
// trigrams are also in qgrams) and their squared norm; false for a text with
// no content word (featureSet.reset then decides what counts).
func (m *contentMeasure) measure(q *featureSet, qgrams *gramTable, text string) (dot, norm2 float64, ok bool) {
	m.lower, m.words = m.lower[:0], m.words[:0]
	start := 0
	end := func() {
		if w := m.lower[start:]; len(w) > 0 && !stopWords[string(w)] {
			m.words = append(m.words, w)
		}
		start = len(m.lower)
	}
	// As contentWords: strings.ToLower maps rune by rune (an invalid byte
	// becomes U+FFFD, which separates words like any non-letter), then
	// words are the runs of letters and digits.
	for _, r := range text {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
		} else {
			r = unicode.ToLower(r)
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			m.lower = utf8.AppendRune(m.lower, r)
			continue
		}
		end()
	}
	end()
	if len(m.words) == 0 {
		return 0, 0, false
	}
	m.grams.reset(len(m.lower) + len(m.words)) // at most one trigram per byte and word
	for _, w := range m.words {
		a, b := rune(-1), '^'
		for _, r := range string(w) {
			if a >= 0 {
				m.grams.add(gramID(a, b, r), trigramWeight)
			}
			a, b = b, r
		}
		m.grams.add(gramID(a, b, '$'), trigramWeight)
	}
	for _, i := range m.grams.used {
		x := m.grams.weights[i]
		norm2 += x * x
		if y, found := qgrams.get(m.grams.keys[i]); found {
			dot += x * y
		}
	}
	slices.SortFunc(m.words, bytes.Compare)
	j := 0
	for i := 0; i < len(m.words); {
		n := 1
		for i+n < len(m.words) && bytes.Equal(m.words[i+n], m.words[i]) {
			n++
		}
		x := float64(n)
		norm2 += x * x
		for j < len(q.words) && q.words[j].word < string(m.words[i]) {
			j++
		}
		if j < len(q.words) && q.words[j].word == string(m.words[i]) {
			dot += x * q.words[j].weight
		}
		i += n
	}
	return dot, norm2, true
}

// gramTable maps trigram ids to weights: open addressing, linear probing,
// cleared by bumping a generation rather than by zeroing.
type gramTable struct {
	keys    []uint64
	weights []float64
	gen     []uint32
	now     uint32
	used    []int // the slots filled since reset
	mask    uint64
}

// reset empties the table, sized for up to n keys.
func (t *gramTable) reset(n int) {
	size := 16
	for size < 2*n {
		size *= 2
	}
	if size > len(t.keys) {
		t.keys, t.weights, t.gen, t.now = make([]uint64, size), make([]float64, size), make([]uint32, size), 0
	}
	t.mask = uint64(len(t.keys) - 1)
	t.now++
	if t.now == 0 { // wrapped: every slot's generation is stale again
		clear(t.gen)
		t.now = 1
	}
	t.used = t.used[:0]
}

// gramHash spreads a trigram id over a table's slots (Fibonacci hashing:
// ids are packed runes, whose low bits alone would cluster).
func gramHash(id uint64) uint64 { return id * 0x9E3779B97F4A7C15 >> 32 }

func (t *gramTable) slot(id uint64) uint64 { return gramHash(id) & t.mask }

func (t *gramTable) add(id uint64, w float64) {
	for i := t.slot(id); ; i = (i + 1) & t.mask {
		if t.gen[i] != t.now {
			t.gen[i], t.keys[i], t.weights[i] = t.now, id, w
			t.used = append(t.used, int(i))
			return
		}
		if t.keys[i] == id {
			t.weights[i] += w
			return
		}
	}
}

func (t *gramTable) get(id uint64) (float64, bool) {
	for i := t.slot(id); ; i = (i + 1) & t.mask {
		if t.gen[i] != t.now {
			return 0, false
		}
		if t.keys[i] == id {
			return t.weights[i], true
		}
	}
}

// FNV-1a, 64 bits: the hash of features and of words.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// wordHash is FNV-1a (64 bits) of w.
func wordHash[T string | []byte](w T) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(w); i++ {
		h ^= uint64(w[i])
		h *= fnvPrime
	}
	return h
}

// add hashes feature (wordHash) into a bucket; one hash bit chooses the
// sign, so that collisions cancel in expectation instead of piling up.
func (h hashEmbedder) add(v []float64, feature []byte, weight float64) {
	sum := wordHash(feature)
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

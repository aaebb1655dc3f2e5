package plugin

// asciiMeasure is contentMeasure's fast path for ASCII text, the usual
// memory: bytes instead of runes, each word's features counted as the word
// ends, words counted in a hash table instead of being sorted, and the
// squared norm summed as counts grow. The result is measure's, bit for
// bit: every weight is a multiple of 0.5, so counts summed as integers and
// scaled at the end are the same exact values as the float sums (see
// featureSet.reset).
type asciiMeasure struct {
	lower []byte
	grams countTable[uint64]
	words countTable[wordKey]
}

// A wordKey is a word of asciiMeasure.lower: its hash, which chooses the
// slot, and its bytes' bounds.
type wordKey struct {
	hash       uint64
	start, end int32
}

// asciiClass maps a byte below 0x80 to its lower-case letter or digit, or
// to 0 when it separates words (as unicode.IsLetter and unicode.IsDigit
// decide for ASCII).
var asciiClass = func() (t [128]byte) {
	for b := range 128 {
		switch {
		case 'a' <= b && b <= 'z', '0' <= b && b <= '9':
			t[b] = byte(b)
		case 'A' <= b && b <= 'Z':
			t[b] = byte(b + 'a' - 'A')
		}
	}
	return t
}()

// stopFilter marks the low bits of the stop words' hashes: a word whose
// hash is not marked is no stop word, without a lookup in stopWords (about
// 2 % of other words are marked too, and looked up).
var stopFilter = func() (t [4096]bool) {
	for w := range stopWords {
		t[wordHash(w)%uint64(len(t))] = true
	}
	return t
}()

// measure returns what contentMeasure.measure does for a text of ASCII
// bytes only, given the hashes of q's words; ascii is false, and nothing
// measured, when text has any other byte.
func (m *asciiMeasure) measure(q *featureSet, qHashes []uint64, text string) (dot, norm2 float64, ok, ascii bool) {
	m.lower = m.lower[:0]
	for i := 0; i < len(text); i++ {
		b := text[i]
		if b >= 0x80 {
			return 0, 0, false, false
		}
		m.lower = append(m.lower, asciiClass[b])
	}
	lower := m.lower
	// A word of n bytes has n+1 trigrams, and is at least one byte
	// followed by a separator or the end.
	m.grams.reset(len(lower) + len(lower)/2 + 1)
	m.words.reset(len(lower)/2 + 1)
	var gramNorm, wordNorm int64 // Σ count², in units of trigramWeight² and of 1
	for i := 0; i < len(lower); {
		if lower[i] == 0 {
			i++
			continue
		}
		start := i
		h := uint64(fnvOffset) // wordHash, as the word is found
		for ; i < len(lower) && lower[i] != 0; i++ {
			h ^= uint64(lower[i])
			h *= fnvPrime
		}
		w := lower[start:i]
		if stopFilter[h%uint64(len(stopFilter))] && stopWords[string(w)] {
			continue
		}
		wordNorm += m.words.add(wordKey{h, int32(start), int32(i)}, h, func(a, b wordKey) bool {
			return a.hash == b.hash && string(lower[a.start:a.end]) == string(lower[b.start:b.end])
		})
		a, b := rune(-1), '^'
		for _, c := range w {
			if a >= 0 {
				id := gramID(a, b, rune(c))
				gramNorm += m.grams.add(id, gramHash(id), equalIDs)
			}
			a, b = b, rune(c)
		}
		id := gramID(a, b, '$')
		gramNorm += m.grams.add(id, gramHash(id), equalIDs)
	}
	if wordNorm == 0 {
		return 0, 0, false, true
	}
	var gramDot, wordDot float64
	for _, g := range q.grams {
		if n := m.grams.get(g.id, gramHash(g.id), equalIDs); n > 0 {
			gramDot += float64(n) * g.weight
		}
	}
	for i, w := range q.words {
		h := qHashes[i]
		n := m.words.get(wordKey{hash: h}, h, func(a, b wordKey) bool {
			return a.hash == b.hash && string(lower[a.start:a.end]) == w.word
		})
		if n > 0 {
			wordDot += float64(n) * w.weight
		}
	}
	const g2 = trigramWeight * trigramWeight
	return wordDot + trigramWeight*gramDot, float64(wordNorm) + g2*float64(gramNorm), true, true
}

func equalIDs(a, b uint64) bool { return a == b }

// countTable counts keys: open addressing, linear probing, cleared by
// bumping a generation rather than by zeroing.
type countTable[K any] struct {
	slots []countSlot[K]
	now   uint32
	mask  uint64
}

type countSlot[K any] struct {
	key K
	gen uint32
	n   int32
}

// reset empties the table, sized for up to n keys.
func (t *countTable[K]) reset(n int) {
	size := 16
	for size < 2*n {
		size *= 2
	}
	if size > len(t.slots) {
		t.slots, t.now = make([]countSlot[K], size), 0
	}
	t.mask = uint64(len(t.slots) - 1)
	t.now++
	if t.now == 0 { // wrapped: every slot's generation is stale again
		clear(t.slots)
		t.now = 1
	}
}

// add counts key once more and returns how much Σ count² grew:
// (n+1)² - n² = 2n + 1.
func (t *countTable[K]) add(key K, hash uint64, equal func(a, b K) bool) int64 {
	for i := hash & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.gen != t.now {
			*s = countSlot[K]{key, t.now, 1}
			return 1
		}
		if equal(s.key, key) {
			s.n++
			return 2*int64(s.n) - 1
		}
	}
}

// get returns key's count.
func (t *countTable[K]) get(key K, hash uint64, equal func(a, b K) bool) int32 {
	for i := hash & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.gen != t.now {
			return 0
		}
		if equal(s.key, key) {
			return s.n
		}
	}
}

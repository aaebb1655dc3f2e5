// Package pluginbench measures the memory plugin side by side with a
// reproduction of the platform's own plugin (memory-plugin-postgres): the same
// corpus loaded into both, the same HTTP clients driving both, ratios printed
// against the goals of issue 12. cmd/plugin-bench is its command line;
// `make bench-plugin` runs it. docs/benchmarks.md records its figures.
package pluginbench

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// A Corpus is what both servers are loaded with and asked: memories of real
// English spread over namespaces, known-item queries and unrelated queries.
// Generate builds the same corpus from the same Go toolchain on any machine.
type Corpus struct {
	Namespaces []Namespace
	Memories   []Memory
	// Extra are sentences not loaded, written by the commit phase.
	Extra []string
	// Known are queries made from words of one memory each; the memory must
	// come back in the top 10 of its workspace's scope.
	Known []Query
	// Natural are questions as an agent phrases them: the first words of
	// sentences that were not loaded. Nothing must come back in particular;
	// they are half of the latency and throughput mix, because the platform's
	// full-text AND makes a 3-word known-item query unusually cheap for it.
	Natural []Query
	// Unrelated are queries of English words the corpus never uses; the
	// answer should be empty.
	Unrelated []Query
}

// A Namespace is one of the platform's: workspace, team or org.
type Namespace struct {
	Name, Kind string
	// Scope is what a workspace of this namespace searches: its workspace,
	// its team and its org, as the workspace server asks it.
	Scope []string
}

// A Memory is one memory to load.
type Memory struct {
	ID, Namespace, Content string
	Pin                    bool
}

// A Query is one search: text over a scope, and for a known item the id that
// must come back.
type Query struct {
	Text  string
	Scope []string
	Want  string // "" for an unrelated query
}

// Shape of the namespaces: 60 % workspace, 30 % team, 10 % org.
const (
	workspaces = 400
	teams      = 200
	orgs       = 66
	// NamespaceCount is the number of namespaces of a corpus.
	NamespaceCount = workspaces + teams + orgs
)

func nsName(kind string, i int) string {
	return fmt.Sprintf("%s:%08x-0000-4000-8000-%012x", kind, i, i)
}

// namespaces builds the 666 namespaces: workspace w belongs to team w/2, team
// t to org t*orgs/teams.
func namespaces() []Namespace {
	ws := func(w int) string { return nsName("workspace", w) }
	team := func(t int) string { return nsName("team", t) }
	org := func(t int) string { return nsName("org", t*orgs/teams) }
	var out []Namespace
	for w := range workspaces {
		out = append(out, Namespace{ws(w), "workspace", []string{ws(w), team(w / 2), org(w / 2)}})
	}
	for t := range teams {
		out = append(out, Namespace{team(t), "team", []string{ws(2 * t), team(t), org(t)}})
	}
	for o := range orgs {
		t := (o*teams + orgs - 1) / orgs // the first team of org o
		out = append(out, Namespace{nsName("org", o), "org", []string{ws(2 * t), team(t), org(t)}})
	}
	return out
}

// Generate builds a corpus of n memories from the comments of the Go
// distribution's sources under goroot (technical English, as agents' memories
// often are): each memory is one or two whole sentences of a comment (see
// text). Memory i goes to namespace i mod 666, so namespaces hold about the
// same number and memories split 60/30/10 like the namespaces. Every 100th
// memory is pinned. known and unrelated are how many queries of each kind to
// make.
func Generate(goroot string, n, extra, known, unrelated int) (*Corpus, error) {
	sents, err := sentences(filepath.Join(goroot, "src"))
	if err != nil {
		return nil, err
	}
	c := &Corpus{Namespaces: namespaces()}
	for i := range n {
		s := text(sents, i)
		c.Memories = append(c.Memories, Memory{
			ID:        fmt.Sprintf("%08x-%04x-4000-8000-%012x", i, i%0xffff, i),
			Namespace: c.Namespaces[i%len(c.Namespaces)].Name,
			Content:   s,
			Pin:       i%100 == 99,
		})
	}
	for i := range extra {
		c.Extra = append(c.Extra, text(sents, n+i))
	}
	c.Natural = naturalQueries(c, sents, known)
	c.Known = knownItems(c, known)
	c.Unrelated = unrelatedQueries(c, unrelated)
	return c, nil
}

// sentences walks the Go sources in lexical order and returns their distinct
// comment sentences that read as prose.
func sentences(src string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var block []string
	flush := func() {
		for _, s := range splitSentences(strings.Join(block, " ")) {
			if prose(s) && len(strings.Fields(s)) <= 40 && !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		block = block[:0]
	}
	err := CommentLines(src, func(text string, comment bool) bool {
		if comment && !strings.HasPrefix(text, "\t") && !strings.HasPrefix(text, "  ") {
			block = append(block, strings.TrimSpace(text))
		} else if len(block) > 0 {
			flush()
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading the Go sources for the corpus: %w", err)
	}
	if len(out) < 10_000 {
		return nil, fmt.Errorf("the Go sources under %s give only %d sentences", src, len(out))
	}
	return out, nil
}

// CommentLines walks the .go files under src (the Go distribution's sources)
// in lexical order and calls line for each of their lines: comment is true
// when the line, trimmed, starts with "// ", and text is what follows; at the
// end of each file line is called once more with comment false. line returns
// false to stop the walk. It is the one reader of the Go sources both
// corpora are made of: Generate's and the plugin's benchmarks'.
func CommentLines(src string, line func(text string, comment bool) bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(data), "\n") {
			text, ok := strings.CutPrefix(strings.TrimSpace(l), "// ")
			if !line(text, ok) {
				return fs.SkipAll
			}
		}
		if !line("", false) {
			return fs.SkipAll
		}
		return nil
	})
}

// text is memory-like text number k: "a sentence or two". The first pass over
// the sentences takes each once (with the next one when it is short); later
// passes pair sentences anew, so any number of distinct memories can be made
// from the same sources.
func text(sents []string, k int) string {
	n := len(sents)
	round := k / n
	first := sents[k%n]
	if round == 0 && len(strings.Fields(first)) >= 12 {
		return first
	}
	second := sents[(k%n+1+round*7919)%n]
	return first + " " + second
}

func splitSentences(text string) []string {
	var out []string
	words := strings.Fields(text)
	start := 0
	for i, w := range words {
		if strings.HasSuffix(w, ".") || strings.HasSuffix(w, "?") || strings.HasSuffix(w, "!") {
			out = append(out, strings.Join(words[start:i+1], " "))
			start = i + 1
		}
	}
	return out // an unfinished sentence is not prose
}

// prose tells a sentence of English from code in a comment: at least 6
// words, capitalised, and most words plain words.
func prose(s string) bool {
	words := strings.Fields(s)
	if len(words) < 6 || !unicode.IsUpper([]rune(s)[0]) {
		return false
	}
	plain := 0
	for _, w := range words {
		if plainWord(w) != "" {
			plain++
		}
	}
	return plain*10 >= len(words)*8
}

// plainWord returns w lower-cased without surrounding punctuation when it is
// letters only (so PostgreSQL's text-search parser sees it as a word, not as
// part of a host name, path or identifier), else "".
func plainWord(w string) string {
	w = strings.TrimLeft(w, `("'`)
	w = strings.TrimRight(w, `.,;:!?)"'`)
	if w == "" {
		return ""
	}
	for _, r := range w {
		if r > unicode.MaxASCII || !unicode.IsLetter(r) {
			return ""
		}
	}
	return strings.ToLower(w)
}

// knownItems makes want queries, each of the three rarest plain words
// (at least 4 letters, not stop words) of one memory, in the memory's order,
// asked over a scope that holds the memory.
func knownItems(c *Corpus, want int) []Query {
	df := map[string]int{}
	for _, m := range c.Memories {
		for _, w := range distinctWords(m.Content) {
			df[w]++
		}
	}
	scope := map[string][]string{}
	for _, ns := range c.Namespaces {
		scope[ns.Name] = ns.Scope
	}
	rng := rand.New(rand.NewPCG(12, 34))
	var out []Query
	for tries := 0; len(out) < want && tries < 10*want; tries++ {
		m := c.Memories[rng.IntN(len(c.Memories))]
		words := distinctWords(m.Content)
		if len(words) < 3 {
			continue
		}
		rare := slices.Clone(words)
		slices.SortStableFunc(rare, func(a, b string) int { return df[a] - df[b] })
		rare = rare[:3]
		var text []string
		for _, w := range words {
			if slices.Contains(rare, w) {
				text = append(text, w)
			}
		}
		out = append(out, Query{Text: strings.Join(text, " "), Scope: scope[m.Namespace], Want: m.ID})
	}
	return out
}

// naturalQueries makes want queries of the first (up to) 8 words of a
// sentence, over the scope of a namespace chosen in turn.
func naturalQueries(c *Corpus, sents []string, want int) []Query {
	out := make([]Query, want)
	for i := range out {
		words := strings.Fields(sents[(i*7919+3)%len(sents)])
		out[i] = Query{Text: strings.Join(words[:min(8, len(words))], " "), Scope: c.Namespaces[(i*7)%len(c.Namespaces)].Scope}
	}
	return out
}

// distinctWords lists the distinct plain words of at least 4 letters that are
// not stop words, in order of first appearance.
func distinctWords(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		w := plainWord(f)
		if len(w) >= 4 && !stopWords[w] && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`about after again also been before being both does doing down during each
		from further have having here into itself just more most once only other over same should some such than
		that their them then there these they this those through under until very were what when where which
		while will with would your`) {
		m[w] = true
	}
	return m
}()

// everyday English far from Go's comments; those the corpus uses anyway are
// left out, with their inflections.
var everyday = strings.Fields(`banana mango apricot pudding biscuit pancake omelette lasagna spinach
	broccoli cauliflower zucchini tulip daffodil orchid begonia hydrangea giraffe zebra hippo walrus
	penguin flamingo dolphin octopus lobster oyster mussel trombone clarinet violin saxophone ukulele
	accordion ballet tango waltz salsa soccer rugby cricket tennis badminton volleyball snorkel surfing
	skiing sledge glacier volcano canyon meadow prairie tundra savanna rainforest monsoon blizzard drizzle
	hailstorm thunder lighthouse harbour cathedral monastery castle palace cottage bungalow attic cellar
	wardrobe cupboard pillow blanket duvet curtain carpet teapot kettle saucepan ladle spatula whisk
	grandmother grandfather nephew niece cousin bride groom wedding birthday anniversary honeymoon
	dentist plumber carpenter butcher baker florist tailor cobbler barber vineyard orchard haystack
	tractor scarecrow pumpkin turnip parsnip radish lettuce cucumber strawberry raspberry blueberry
	cinnamon nutmeg ginger vanilla caramel marzipan croissant baguette pretzel muffin`)

func unrelatedQueries(c *Corpus, want int) []Query {
	vocab := map[string]bool{}
	for _, m := range c.Memories {
		for _, f := range strings.Fields(m.Content) {
			if w := plainWord(f); w != "" {
				vocab[stem(w)] = true
			}
		}
	}
	var words []string
	for _, w := range everyday {
		if !vocab[stem(w)] {
			words = append(words, w)
		}
	}
	rng := rand.New(rand.NewPCG(56, 78))
	var out []Query
	for i := 0; i < want && len(words) >= 3; i++ {
		n := 2 + rng.IntN(2)
		var q []string
		for _, j := range rng.Perm(len(words))[:n] {
			q = append(q, words[j])
		}
		ns := c.Namespaces[rng.IntN(len(c.Namespaces))]
		out = append(out, Query{Text: strings.Join(q, " "), Scope: ns.Scope})
	}
	return out
}

// stem is a crude English stemmer, enough to tell "pumpkins" from "pumpkin".
func stem(w string) string {
	for _, suffix := range []string{"ing", "ed", "es", "s"} {
		if s, ok := strings.CutSuffix(w, suffix); ok && len(s) >= 3 {
			return s
		}
	}
	return w
}

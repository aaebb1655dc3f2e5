package cutover

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// redactKeywordPassword is the regular expression it replaces, written out;
// both must redact the same text the same way.
var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']\S*)`)

func TestKeywordPasswordsAreRedactedAsTheRegularExpressionDid(t *testing.T) {
	cases := []string{
		"", "password", "password=", "password= ", "password=x", "PassWord = 'a b' user=u",
		"host=h password=pw user=u", `password='p w\'x' user=u`, `password='unclosed user=u`,
		"password='a\\\nb' x", `password='a\\' b`, "password=\t\n'x'y z", "paſſword=x", "PASSWORD=é ü",
		"mypassword=1 password=2password=3", "password==x", "password= =x", "password='' x", "password='\xff' x",
		"password=\xffx y", "password = \r\f value",
	}
	// And random strings over the characters that matter.
	alphabet := []string{"password", "PASSWORD", "paſſword", "=", " ", "\t", "\n", "'", `\`, "x", "é", "\xff", "pass"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, in := range cases {
		want := keywordPassword.ReplaceAllString(in, "${1}xxxxx")
		if got := redactKeywordPassword(in); got != want {
			t.Fatalf("redactKeywordPassword(%q) = %q, the regular expression gives %q", in, got, want)
		}
	}
}

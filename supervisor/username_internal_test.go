package supervisor

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// isUserName is this regular expression written out; both must agree.
var userName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)

func TestIsUserNameIsTheRegularExpression(t *testing.T) {
	cases := []string{"", "$", "app", "app$", "app$$", "_x", "1app", "a.b-c_9", "-a", "a b", "é", "a:b"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteByte("aZ_09.-$ :é"[r.IntN(12)])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := isUserName(s), userName.MatchString(s); got != want {
			t.Fatalf("isUserName(%q) = %v, the regular expression says %v", s, got, want)
		}
	}
}

package main

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// isServiceName is this regular expression written out; both must agree.
var serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func TestIsServiceNameIsTheRegularExpression(t *testing.T) {
	cases := []string{"", "a", "9", "_a", ".a", "-a", "web-1.b_c", "a b", "é", "a,b", "a;"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteByte("aZ_09.- ;é"[r.IntN(11)])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := isServiceName(s), serviceName.MatchString(s); got != want {
			t.Fatalf("isServiceName(%q) = %v, the regular expression says %v", s, got, want)
		}
	}
}

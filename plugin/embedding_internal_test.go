package plugin

import (
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

package envvar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBool(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		def     bool
		want    bool
		wantErr string
	}{
		{name: "unset means the default", env: nil, def: true, want: true},
		{name: "empty means the default", env: map[string]string{"X": ""}, def: false, want: false},
		{name: "true is true", env: map[string]string{"X": "true"}, want: true},
		{name: "TRUE is true whatever the case", env: map[string]string{"X": "TRUE"}, want: true},
		{name: "1 is true", env: map[string]string{"X": "1"}, want: true},
		{name: "0 is false", env: map[string]string{"X": "0"}, def: true, want: false},
		{name: "yes is rejected, naming the variable and the accepted forms", env: map[string]string{"X": "yes"}, wantErr: `X="yes" is invalid; accepted: true, false, 1 or 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Map(tt.env).Bool("X", tt.def)
			checkErr(t, err, tt.wantErr)
			if err == nil && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    time.Duration
		wantErr string
	}{
		{name: "unset means the default", value: "", want: 30 * time.Second},
		{name: "a Go duration is read", value: "1m30s", want: 90 * time.Second},
		{name: "a bare number is rejected", value: "30", wantErr: `X="30" is invalid; accepted: a Go duration`},
		{name: "zero is rejected as not positive", value: "0s", wantErr: "must be positive"},
		{name: "a negative duration is rejected", value: "-5s", wantErr: "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Map(map[string]string{"X": tt.value}).Duration("X", 30*time.Second)
			checkErr(t, err, tt.wantErr)
			if err == nil && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInt(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    int
		wantErr string
	}{
		{name: "unset means the default", value: "", want: 5},
		{name: "a whole number in range is read", value: "12", want: 12},
		{name: "surrounding spaces are ignored", value: " 3 ", want: 3},
		{name: "the bounds are accepted", value: "1", want: 1},
		{name: "a word is rejected, naming the accepted range", value: "five", wantErr: `X="five" is invalid; accepted: a whole number from 1 to 100`},
		{name: "a fraction is rejected", value: "2.5", wantErr: `X="2.5" is invalid; accepted: a whole number`},
		{name: "below the range is rejected", value: "0", wantErr: `X="0" is invalid: out of range; accepted: a whole number from 1 to 100`},
		{name: "above the range is rejected", value: "101", wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Map(map[string]string{"X": tt.value}).Int("X", 5, 1, 100)
			checkErr(t, err, tt.wantErr)
			if err == nil && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFloat(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    float64
		wantErr string
	}{
		{name: "unset means the default", value: "", want: 0.25},
		{name: "a decimal in range is read", value: "0.4", want: 0.4},
		{name: "surrounding spaces are ignored", value: " 1 ", want: 1},
		{name: "the bounds are accepted", value: "0", want: 0},
		{name: "a word is rejected, naming the accepted range", value: "high", wantErr: `X="high" is invalid; accepted: a decimal number from 0 to 1, such as 0.25`},
		{name: "below the range is rejected", value: "-0.1", wantErr: `X="-0.1" is invalid: out of range; accepted: a decimal number from 0 to 1`},
		{name: "above the range is rejected", value: "1.5", wantErr: "out of range"},
		{name: "NaN is rejected", value: "NaN", wantErr: "out of range"},
		{name: "a percentage is rejected", value: "25%", wantErr: "is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Map(map[string]string{"X": tt.value}).Float("X", 0.25, 0, 1)
			checkErr(t, err, tt.wantErr)
			if err == nil && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an *envvar.Error containing %q", err, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestErrorOfAnUnsetVariableSaysItIsNotSet(t *testing.T) {
	err := &Error{Name: "X", Reason: "the sidecar needs it", Accepted: "a URL"}
	want := "X is not set: the sidecar needs it; accepted: a URL"
	if err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}

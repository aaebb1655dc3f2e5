package envvar

import "testing"

func TestOneOf(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr string
	}{
		{name: "unset means the default", value: "", want: "info"},
		{name: "a listed value is returned as listed", value: "WARN", want: "warn"},
		{name: "an unlisted value is rejected, naming every accepted one", value: "verbose",
			wantErr: `X="verbose" is invalid; accepted: debug, info, warn or error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Map(map[string]string{"X": tt.value}).OneOf("X", "info", "debug", "info", "warn", "error")
			checkErr(t, err, tt.wantErr)
			if err == nil && got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

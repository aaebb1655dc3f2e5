package plugin_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/plugin"
)

func TestConfigFromEnv(t *testing.T) {
	db := "postgres://u:pw@db:5432/tenant"
	tests := []struct {
		name    string
		env     map[string]string
		check   func(plugin.Config) bool
		wantErr string // the culprit variable, and a part of the message
	}{
		{name: "only the database URL gives every default",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db},
			check: func(c plugin.Config) bool {
				return c.ListenAddr == "127.0.0.1:9100" && c.Schema == "memory_plugin" && c.EmbeddingDim == 256 &&
					c.EmbeddingTimeout == 1500*time.Millisecond && c.Token == "" && !c.AllowInsecure && c.EmbeddingURL == ""
			}},
		{name: "a missing database URL is an error naming the variable",
			env: map[string]string{}, wantErr: "MEMORY_PLUGIN_DATABASE_URL"},
		{name: "every variable is read",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "0.0.0.0:9200",
				"MEMORY_PLUGIN_SCHEMA": "mem2", "MEMORY_PLUGIN_TOKEN": token, "MEMORY_PLUGIN_ALLOW_INSECURE": "0",
				"MEMORY_PLUGIN_EMBEDDING_DIM": "1536", "MEMORY_PLUGIN_EMBEDDING_URL": "https://api.example.com/v1",
				"MEMORY_PLUGIN_EMBEDDING_MODEL": "m", "MEMORY_PLUGIN_EMBEDDING_API_KEY": "k", "MEMORY_PLUGIN_EMBEDDING_TIMEOUT": "3s"},
			check: func(c plugin.Config) bool {
				return c.ListenAddr == "0.0.0.0:9200" && c.Schema == "mem2" && c.Token == token && c.EmbeddingDim == 1536 &&
					c.EmbeddingURL == "https://api.example.com/v1" && c.EmbeddingModel == "m" && c.EmbeddingAPIKey == "k" && c.EmbeddingTimeout == 3*time.Second
			}},
		{name: "all interfaces without a token are refused",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": ":9100"}, wantErr: "MEMORY_PLUGIN_LISTEN_ADDR"},
		{name: "a public address without a token is refused",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "10.1.2.3:9100"}, wantErr: "MEMORY_PLUGIN_TOKEN is unset"},
		{name: "a public address is allowed with ALLOW_INSECURE=1",
			env:   map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "0.0.0.0:9100", "MEMORY_PLUGIN_ALLOW_INSECURE": "1"},
			check: func(c plugin.Config) bool { return c.AllowInsecure }},
		{name: "localhost and ::1 are loopback",
			env:   map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "[::1]:9100"},
			check: func(c plugin.Config) bool { return c.ListenAddr == "[::1]:9100" }},
		{name: "an address without a port is an error",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "127.0.0.1"}, wantErr: "MEMORY_PLUGIN_LISTEN_ADDR"},
		{name: "ALLOW_INSECURE=yes is an error with the accepted forms",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_ALLOW_INSECURE": "yes"}, wantErr: "MEMORY_PLUGIN_ALLOW_INSECURE"},
		{name: "a schema that is not an identifier is an error",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_SCHEMA": `x"; DROP TABLE y; --`}, wantErr: "MEMORY_PLUGIN_SCHEMA"},
		{name: "a dimension above pgvector's index limit is an error",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_EMBEDDING_DIM": "3072"}, wantErr: "MEMORY_PLUGIN_EMBEDDING_DIM"},
		{name: "a provider URL without a model is an error",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_EMBEDDING_URL": "http://emb:8080/v1"}, wantErr: "MEMORY_PLUGIN_EMBEDDING_MODEL"},
		{name: "a provider URL that is not http is an error",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_EMBEDDING_URL": "emb:8080", "MEMORY_PLUGIN_EMBEDDING_MODEL": "m"}, wantErr: "MEMORY_PLUGIN_EMBEDDING_URL"},
		{name: "the relevance floor is read",
			env:   map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_MIN_SIMILARITY": "0.4"},
			check: func(c plugin.Config) bool { return c.MinSimilarity != nil && *c.MinSimilarity == 0.4 }},
		{name: "the relevance floor defaults to 0.25",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db},
			check: func(c plugin.Config) bool {
				return c.MinSimilarity != nil && *c.MinSimilarity == plugin.DefaultMinSimilarity
			}},
		{name: "a relevance floor above 1 is an error naming the range",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_MIN_SIMILARITY": "25"}, wantErr: "MEMORY_PLUGIN_MIN_SIMILARITY"},
		{name: "a relevance floor that is not a number is an error",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_MIN_SIMILARITY": "strict"}, wantErr: "from 0 to 1"},
		{name: "a bad timeout is an error",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_EMBEDDING_TIMEOUT": "2"}, wantErr: "MEMORY_PLUGIN_EMBEDDING_TIMEOUT"},
		{name: "a short token is refused without echoing it",
			env: map[string]string{"MEMORY_PLUGIN_DATABASE_URL": db, "MEMORY_PLUGIN_TOKEN": "hunter2"}, wantErr: "MEMORY_PLUGIN_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := plugin.ConfigFromEnv(envvar.Map(tt.env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !tt.check(c) {
					t.Fatalf("config %+v", c)
				}
				return
			}
			var e *envvar.Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v; want an *envvar.Error about %s", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "pw@") {
				t.Fatalf("error %q reveals a secret", err)
			}
		})
	}
}

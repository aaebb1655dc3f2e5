package plugin

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/loopback"
)

// Names of the environment variables ConfigFromEnv reads.
const (
	EnvDatabaseURL      = "MEMORY_PLUGIN_DATABASE_URL"
	EnvListenAddr       = "MEMORY_PLUGIN_LISTEN_ADDR"
	EnvSchema           = "MEMORY_PLUGIN_SCHEMA"
	EnvToken            = "MEMORY_PLUGIN_TOKEN"
	EnvAllowInsecure    = "MEMORY_PLUGIN_ALLOW_INSECURE"
	EnvEmbeddingDim     = "MEMORY_PLUGIN_EMBEDDING_DIM"
	EnvEmbeddingURL     = "MEMORY_PLUGIN_EMBEDDING_URL"
	EnvEmbeddingModel   = "MEMORY_PLUGIN_EMBEDDING_MODEL"
	EnvEmbeddingAPIKey  = "MEMORY_PLUGIN_EMBEDDING_API_KEY"
	EnvEmbeddingTimeout = "MEMORY_PLUGIN_EMBEDDING_TIMEOUT"
	EnvMinSimilarity    = "MEMORY_PLUGIN_MIN_SIMILARITY"
)

// Defaults of the configuration.
const (
	DefaultListenAddr       = "127.0.0.1:9100"
	DefaultSchema           = "memory_plugin"
	DefaultEmbeddingDim     = 256
	DefaultEmbeddingTimeout = 1500 * time.Millisecond
	// DefaultMinSimilarity is the relevance floor of the vector list, chosen
	// by measurement with the built-in embedder (docs/benchmarks.md): above
	// what a nonsense query reaches against 10,000 real memories, below what
	// a fragment of a memory reaches against that memory in all but 1%.
	DefaultMinSimilarity = 0.25
	// MaxEmbeddingDim is the largest dimension pgvector's HNSW index accepts.
	MaxEmbeddingDim = 2000
	minTokenLen     = 16
)

// An EnvVar documents one environment variable for --help and docs/memory-plugin.md.
type EnvVar struct{ Name, Default, Meaning string }

// EnvVars lists every variable ConfigFromEnv reads, in the order --help shows them.
var EnvVars = []EnvVar{
	{EnvDatabaseURL, "(required)", "PostgreSQL URL of the plugin's database (pgvector must be installed; pool_max_conns etc. may be given as URL parameters)"},
	{EnvListenAddr, DefaultListenAddr, "host:port to listen on; a non-loopback host needs " + EnvToken + " (or " + EnvAllowInsecure + "=1); port 0 picks a free port"},
	{EnvSchema, DefaultSchema, "schema holding the plugin's tables (a lower-case SQL identifier)"},
	{EnvToken, "(unset)", fmt.Sprintf("when set (at least %d characters), every route but /v1/health needs Authorization: Bearer <token>", minTokenLen)},
	{EnvAllowInsecure, "false", "1 allows a non-loopback listen address without a token"},
	{EnvEmbeddingDim, fmt.Sprint(DefaultEmbeddingDim), fmt.Sprintf("embedding dimension (1..%d); fixed at first boot: changing it needs a re-embed into a new schema", MaxEmbeddingDim)},
	{EnvEmbeddingURL, "(unset: built-in embedder)", "base URL of an OpenAI-compatible embeddings API, e.g. https://api.openai.com/v1 (POST <url>/embeddings)"},
	{EnvEmbeddingModel, "(required with the URL)", "model name sent to the embeddings API; its output dimension must equal " + EnvEmbeddingDim},
	{EnvEmbeddingAPIKey, "(unset)", "bearer key for the embeddings API"},
	{EnvEmbeddingTimeout, DefaultEmbeddingTimeout.String(), "bound on one embeddings API call; a write that needs an embedding answers 503 when it is exceeded"},
	{EnvMinSimilarity, fmt.Sprint(DefaultMinSimilarity), "relevance floor of recall (0..1): a vector neighbour less similar to the query is not returned (built-in embedder: similarity of the texts' words and trigrams; a provider: cosine similarity); 0 keeps every neighbour"},
}

// Config configures a Service. The zero value of every field but DatabaseURL
// means its default.
type Config struct {
	DatabaseURL string
	// ListenAddr and AllowInsecure are the command's; Config validates them so
	// that the refusal to listen openly without a token lives in one place.
	ListenAddr    string
	AllowInsecure bool
	Schema        string
	Token         string
	EmbeddingDim  int
	// EmbeddingURL selects the OpenAI-compatible provider; empty means the
	// built-in deterministic embedder.
	EmbeddingURL     string
	EmbeddingModel   string
	EmbeddingAPIKey  string
	EmbeddingTimeout time.Duration
	// MinSimilarity is the relevance floor of recall (see EnvMinSimilarity);
	// nil means DefaultMinSimilarity.
	MinSimilarity *float64
	// Logger receives the access log and errors; nil discards them.
	Logger *zap.Logger
}

// ConfigFromEnv reads the configuration from the environment. Every error is an
// *envvar.Error naming the variable and the accepted forms.
func ConfigFromEnv(env envvar.Lookup) (Config, error) {
	c := Config{
		DatabaseURL:     env.String(EnvDatabaseURL, ""),
		ListenAddr:      env.String(EnvListenAddr, DefaultListenAddr),
		Schema:          env.String(EnvSchema, DefaultSchema),
		Token:           env.String(EnvToken, ""),
		EmbeddingURL:    env.String(EnvEmbeddingURL, ""),
		EmbeddingModel:  env.String(EnvEmbeddingModel, ""),
		EmbeddingAPIKey: env.String(EnvEmbeddingAPIKey, ""),
	}
	var err error
	if c.AllowInsecure, err = env.Bool(EnvAllowInsecure, false); err != nil {
		return Config{}, err
	}
	if c.EmbeddingDim, err = env.Int(EnvEmbeddingDim, DefaultEmbeddingDim, 1, MaxEmbeddingDim); err != nil {
		return Config{}, err
	}
	if c.EmbeddingTimeout, err = env.Duration(EnvEmbeddingTimeout, DefaultEmbeddingTimeout); err != nil {
		return Config{}, err
	}
	minSim, err := env.Float(EnvMinSimilarity, DefaultMinSimilarity, 0, 1)
	if err != nil {
		return Config{}, err
	}
	c.MinSimilarity = &minSim
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// withDefaults fills in the defaults of unset fields.
func (c Config) withDefaults() Config {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.EmbeddingDim == 0 {
		c.EmbeddingDim = DefaultEmbeddingDim
	}
	if c.EmbeddingTimeout == 0 {
		c.EmbeddingTimeout = DefaultEmbeddingTimeout
	}
	if c.MinSimilarity == nil {
		d := DefaultMinSimilarity
		c.MinSimilarity = &d
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// validate checks a configuration after defaults are applied.
func (c Config) validate() error {
	c = c.withDefaults()
	if c.DatabaseURL == "" {
		return &envvar.Error{Name: EnvDatabaseURL, Reason: "required", Accepted: "a PostgreSQL URL such as postgres://user:password@host:5432/db"}
	}
	if !identifier.MatchString(c.Schema) {
		return &envvar.Error{Name: EnvSchema, Value: c.Schema, Accepted: "a lower-case SQL identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters"}
	}
	if c.Token != "" && len(c.Token) < minTokenLen {
		return &envvar.Error{Name: EnvToken, Value: "(hidden)", Reason: fmt.Sprintf("%d characters is too short to be a secret", len(c.Token)), Accepted: fmt.Sprintf("a random string of at least %d characters", minTokenLen)}
	}
	if c.EmbeddingDim < 1 || c.EmbeddingDim > MaxEmbeddingDim {
		return &envvar.Error{Name: EnvEmbeddingDim, Value: fmt.Sprint(c.EmbeddingDim), Reason: "out of range", Accepted: fmt.Sprintf("a whole number from 1 to %d", MaxEmbeddingDim)}
	}
	if f := *c.MinSimilarity; !(f >= 0 && f <= 1) {
		return &envvar.Error{Name: EnvMinSimilarity, Value: fmt.Sprint(f), Reason: "out of range", Accepted: "a decimal number from 0 to 1"}
	}
	if c.EmbeddingURL != "" {
		u, err := url.Parse(c.EmbeddingURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &envvar.Error{Name: EnvEmbeddingURL, Value: c.EmbeddingURL, Accepted: "an http or https base URL such as https://api.openai.com/v1"}
		}
		if c.EmbeddingModel == "" {
			return &envvar.Error{Name: EnvEmbeddingModel, Reason: "required when " + EnvEmbeddingURL + " is set", Accepted: "the provider's model name, e.g. text-embedding-3-small"}
		}
	}
	return c.checkListen()
}

// checkListen refuses an address that other machines can reach unless requests
// are authenticated or the operator said so explicitly.
func (c Config) checkListen() error {
	host, port, err := net.SplitHostPort(c.ListenAddr)
	accepted := "host:port such as 127.0.0.1:9100 or [::1]:9100"
	if err != nil || port == "" {
		return &envvar.Error{Name: EnvListenAddr, Value: c.ListenAddr, Accepted: accepted}
	}
	if loopback.IsHost(host) || c.Token != "" || c.AllowInsecure {
		return nil
	}
	return &envvar.Error{
		Name: EnvListenAddr, Value: c.ListenAddr,
		Reason:   "not a loopback address and " + EnvToken + " is unset, so anyone on the network could read and write memories",
		Accepted: "a loopback address (127.0.0.1:9100, [::1]:9100, localhost:9100); or set " + EnvToken + "; or " + EnvAllowInsecure + "=1",
	}
}

package plugin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Version is the contract version /v1/health reports.
const Version = "1.0.0"

// capabilities are the contract's (fts, embedding, ttl, pin, propagation) and
// this plugin's extensions, so clients can discover them.
var capabilities = []string{"fts", "embedding", "ttl", "pin", "propagation", "batch", "lookup", "created_at", "metadata"}

// Enumerations of the contract, in the order error messages list them.
var (
	namespaceKinds = []string{"workspace", "team", "org", "custom"}
	memoryKinds    = []string{"fact", "summary", "checkpoint"}
	memorySources  = []string{"agent", "runtime", "user"}
)

const maxNamespaceLen = 256

var namespacePattern = regexp.MustCompile(`^[a-z]+:[A-Za-z0-9_:.\-]+$`)

// checkNamespace returns why name is not a namespace name, or "".
func checkNamespace(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > maxNamespaceLen:
		return fmt.Sprintf("is %d characters long; at most %d are allowed", len(name), maxNamespaceLen)
	case !namespacePattern.MatchString(name):
		return fmt.Sprintf("%q is not a namespace name: it must match %s (e.g. workspace:<uuid>)", name, namespacePattern)
	}
	return ""
}

// kindFromPrefix gives the kind of a namespace created implicitly by a commit.
func kindFromPrefix(name string) string {
	prefix, _, _ := strings.Cut(name, ":")
	switch prefix {
	case "workspace", "team", "org":
		return prefix
	}
	return "custom"
}

// namespace is the Namespace object of the contract.
type namespace struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	ExpiresAt *time.Time      `json:"expires_at"`
	Metadata  json.RawMessage `json:"metadata"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// memory is the Memory (read) shape: the MemoryWrite fields but the embedding,
// plus id, namespace, created_at and score.
type memory struct {
	ID          string          `json:"id"`
	Namespace   string          `json:"namespace"`
	Content     string          `json:"content"`
	Kind        string          `json:"kind"`
	Source      string          `json:"source"`
	ExpiresAt   *time.Time      `json:"expires_at"`
	Propagation json.RawMessage `json:"propagation"`
	Pin         bool            `json:"pin"`
	Metadata    json.RawMessage `json:"metadata"`
	CreatedAt   time.Time       `json:"created_at"`
	Score       *float64        `json:"score"`
}

// memoryInput is a validated write, ready for the store.
type memoryInput struct {
	ID          string // canonical lower-case UUID
	Namespace   string
	Content     string
	Kind        string
	Source      string
	ExpiresAt   *time.Time
	Propagation []byte // nil when absent
	Pin         bool
	Embedding   []float32 // nil: the plugin embeds Content
	CreatedAt   *time.Time
	Metadata    []byte
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b[:])
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// parseUUID accepts the canonical 8-4-4-4-12 hex form in either case and
// returns it in lower case.
func parseUUID(s string) (string, bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return "", false
	}
	b, err := hex.DecodeString(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36])
	if err != nil {
		return "", false
	}
	return formatUUID(b), true
}

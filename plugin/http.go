package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Bounds on request bodies. A batch carries up to 500 memories.
const (
	maxBodyBytes      = 1 << 20
	maxBatchBodyBytes = 32 << 20
)

// An endpoint handles one method of one route. It gets the request body, read
// within its bound, and returns the status and the value to send as JSON (nil:
// no body), or an error that becomes the contract's error envelope.
type endpoint struct {
	serve    func(r *http.Request, body []byte) (int, any, error)
	maxBody  int64 // 0: the route takes no body
	readOnly bool  // GET: HEAD is served too
	// shape points to the request type, whose fields are the ones known:
	// others are ignored and logged at debug level.
	shape any
	// dbTimeout bounds the request's database work; 0: dbTimeout.
	dbTimeout time.Duration
}

// Handler returns the HTTP handler of the contract and its extensions.
// Unknown paths and methods get the contract's JSON envelope, not ServeMux's
// plain-text 404/405.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := map[string]map[string]endpoint{
		"/v1/health": {http.MethodGet: {serve: s.health, readOnly: true}},
		"/v1/namespaces/{name}": {
			http.MethodPut:    {serve: s.putNamespace, maxBody: maxBodyBytes, shape: &namespacePut{}},
			http.MethodPatch:  {serve: s.patchNamespace, maxBody: maxBodyBytes, shape: &namespacePatch{}},
			http.MethodDelete: {serve: s.deleteNamespace},
		},
		"/v1/namespaces/{name}/memories": {http.MethodPost: {serve: s.commitMemory, maxBody: maxBodyBytes, shape: &memoryWrite{}}},
		"/v1/search":                     {http.MethodPost: {serve: s.search, maxBody: maxBodyBytes, shape: &searchRequest{}}},
		"/v1/memories/{id}":              {http.MethodDelete: {serve: s.deleteMemory, maxBody: maxBodyBytes, shape: &memoryDelete{}}},
		"/v1/memories/batch":             {http.MethodPost: {serve: s.commitBatch, maxBody: maxBatchBodyBytes, shape: &batchRequest{}, dbTimeout: batchDBTimeout}},
		"/v1/memories/lookup":            {http.MethodPost: {serve: s.lookup, maxBody: maxBodyBytes, shape: &lookupRequest{}}},
	}
	for pattern, methods := range routes {
		mux.Handle(pattern, s.methods(methods))
	}
	mux.Handle("GET "+MetricsPath, s.metrics.handler())
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNoRoute)
	}))
	return s.recoverPanics(s.metrics.instrument(s.accessLog(s.authenticate(mux))))
}

// methods dispatches on the method, so that a known path with a wrong method
// is a 405 in the envelope.
func (s *Service) methods(m map[string]endpoint) http.Handler {
	allowed := make([]string, 0, len(m))
	for method, e := range m {
		allowed = append(allowed, method)
		if e.readOnly {
			allowed = append(allowed, http.MethodHead)
		}
	}
	sort.Strings(allowed)
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		e, ok := m[method]
		if !ok || (r.Method == http.MethodHead && !e.readOnly) {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: "bad_request", Message: "method not allowed"})
			return
		}
		s.serve(w, r, e)
	})
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, e endpoint) {
	var body []byte
	if e.maxBody > 0 {
		var err *apiError
		if body, err = readBody(w, r, e.maxBody); err != nil {
			s.writeError(w, r, err)
			return
		}
		if e.shape != nil && s.log.Core().Enabled(zap.DebugLevel) {
			if unknown := unknownFields(body, e.shape); len(unknown) > 0 {
				s.log.Debug("ignored unknown request fields", zap.String("method", r.Method),
					zap.String("path", r.URL.Path), zap.Strings("fields", unknown))
			}
		}
	}
	bound := dbTimeout
	if e.dbTimeout > 0 {
		bound = e.dbTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), bound)
	defer cancel()
	status, v, err := e.serve(r.WithContext(ctx), body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// readBody reads a JSON request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	tooLarge := &apiError{Status: http.StatusRequestEntityTooLarge, Code: "bad_request",
		Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	// Only application/json: the contract's clients send it, and a browser
	// cannot send it cross-site without a CORS preflight this server never
	// grants, so a web page cannot write memories through a loopback plugin.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &apiError{Status: http.StatusUnsupportedMediaType, Code: "bad_request",
			Message: fmt.Sprintf("Content-Type %q is not accepted; send application/json", r.Header.Get("Content-Type"))}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, tooLarge
	case err != nil:
		return nil, badRequest("reading the request body: " + err.Error())
	}
	return data, nil
}

// authenticate requires the bearer token on every route but /v1/health when
// a token is configured. Unknown paths are refused too, so that an
// unauthenticated client learns nothing about the routes.
func (s *Service) authenticate(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := sha256.Sum256([]byte(s.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/health" {
			scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			// Comparing digests keeps the comparison constant-time in the
			// token's length too.
			got := sha256.Sum256([]byte(token))
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="memory-plugin"`)
				s.writeError(w, r, errUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (s *Service) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		s.log.Info("request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", rec.status), zap.Duration("duration", time.Since(start)))
	})
}

// recoverPanics turns a panic into a 500 envelope and one log line; the
// server keeps serving.
func (s *Service) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panicked", zap.String("path", r.URL.Path), zap.Any("panic", p))
				writeJSON(w, errInternal.Status, errInternal)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// writeError answers with the error envelope; 5xx are logged with the cause,
// which the client does not see when it is internal.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Status >= 500 {
		s.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", ae.Status), zap.Error(err))
	}
	writeJSON(w, ae.Status, ae)
}

// answerBuffers keeps the buffers of small answers (a recall's is a few
// KB) from request to request; a large one (a lookup of 1000 memories) is
// left to the GC rather than held for the process's life.
var answerBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledAnswer = 64 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := answerBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledAnswer {
			answerBuffers.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // content comes back as written
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"code":"internal","message":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

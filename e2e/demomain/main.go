// Command demomain stands in for the platform's server in the end-to-end tests
// and in `make demo`: a main service whose every reaction to tenant-init is
// visible in its output.
//
// It logs its start with its pid and ids; when MEMORY_PLUGIN_URL is set it
// commits one memory through the plugin and recalls it by search, printing
// both timings; then it serves until a signal comes. Every signal it gets is
// logged ("demomain: got SIGUSR1"). SIGTERM is a graceful stop: exit 0.
// SIGINT is not handled gracefully: it dies of it, as an interactive program
// does on Ctrl-C, so tenant-init reports 130.
//
// Usage: demomain [-exit-code N] [-namespace NAME]
//
// Environment: MEMORY_PLUGIN_URL (the plugin; empty means memory is off),
// MEMORY_PLUGIN_TOKEN (sent as a bearer token when set).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/agentplatform/tenant-init/envvar"
	"golang.org/x/sys/unix"
)

func main() {
	exitCode := flag.Int("exit-code", -1, "exit with this status right after the start (and the round trip) instead of serving; -1 serves until a signal")
	namespace := flag.String("namespace", "workspace:demomain", "namespace of the memory the round trip commits and recalls")
	flag.Parse()

	// Subscribed before the start line, so a signal sent once the line is
	// seen is never lost.
	signals := make(chan os.Signal, 8)
	// Known before Notify: once a signal is caught, Ignored no longer tells.
	// SIGINT is ignored in a shell's background job; Reset restores that.
	sigintIgnored := signal.Ignored(syscall.SIGINT)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGWINCH)

	logf("started pid=%d uid=%d gid=%d", os.Getpid(), os.Getuid(), os.Getgid())
	if url := envvar.OS.String("MEMORY_PLUGIN_URL", ""); url == "" {
		logf("memory plugin off (MEMORY_PLUGIN_URL is empty)")
	} else {
		c := client{base: strings.TrimRight(url, "/"), token: envvar.OS.String("MEMORY_PLUGIN_TOKEN", "")}
		if err := roundTrip(c, *namespace); err != nil {
			logf("round trip failed: %v", err)
			os.Exit(1)
		}
	}
	if *exitCode >= 0 {
		logf("exiting %d as told", *exitCode)
		os.Exit(*exitCode)
	}

	for sig := range signals {
		s := sig.(syscall.Signal)
		switch s {
		case syscall.SIGTERM:
			logf("got %s, exiting 0", unix.SignalName(s))
			os.Exit(0)
		case syscall.SIGINT:
			logf("got %s, dying of it", unix.SignalName(s))
			if sigintIgnored {
				logf("SIGINT is ignored in this process, exiting 130 instead")
				os.Exit(130)
			}
			signal.Reset(s)
			_ = syscall.Kill(os.Getpid(), s)
			select {} // the default action ends the process
		default:
			logf("got %s", unix.SignalName(s))
		}
	}
}

func logf(format string, args ...any) {
	fmt.Printf("demomain: "+format+"\n", args...)
}

// roundTrip commits one memory and finds it again by a search for its words,
// as the platform's server does with every agent turn.
func roundTrip(c client, namespace string) error {
	logf("memory plugin at %s", c.base)
	content := "demomain remembers that the tenant booted at " + time.Now().UTC().Format(time.RFC3339)

	start := time.Now()
	var committed struct {
		ID        string `json:"id"`
		Namespace string `json:"namespace"`
	}
	err := c.post("/v1/namespaces/"+namespace+"/memories", http.StatusCreated,
		map[string]any{"content": content, "kind": "fact", "source": "agent"}, &committed)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	commitTime := time.Since(start)
	logf("committed id=%s namespace=%s in %s", committed.ID, committed.Namespace, ms(commitTime))

	start = time.Now()
	var found struct {
		Memories []struct {
			ID      string   `json:"id"`
			Content string   `json:"content"`
			Score   *float64 `json:"score"`
		} `json:"memories"`
	}
	err = c.post("/v1/search", http.StatusOK,
		map[string]any{"namespaces": []string{namespace}, "query": "tenant booted", "limit": 5}, &found)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	recallTime := time.Since(start)
	for _, m := range found.Memories {
		if m.ID == committed.ID {
			score := "null"
			if m.Score != nil {
				score = fmt.Sprintf("%.4f", *m.Score)
			}
			logf("recalled id=%s score=%s content=%q in %s", m.ID, score, m.Content, ms(recallTime))
			logf("round trip ok commit_ms=%s recall_ms=%s", msValue(commitTime), msValue(recallTime))
			return nil
		}
	}
	return fmt.Errorf("search returned %d memories, none with the committed id %s", len(found.Memories), committed.ID)
}

type client struct {
	base  string
	token string
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// post sends body as JSON and decodes the answer into out when the status is want.
func (c client) post(path string, want int, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("POST %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("POST %s: decoding %q: %w", path, data, err)
	}
	return nil
}

func ms(d time.Duration) string { return msValue(d) + "ms" }

func msValue(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
}

package plugin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/internal/pgtest"
	"github.com/agentplatform/tenant-init/plugin"
)

// The database goes away under load and comes back: health says so within
// its bound both ways, writes during the outage are refused with 5xx (never
// acknowledged), and every acknowledged write is still there afterwards.
func TestTheDatabaseGoingAwayAndComingBack(t *testing.T) {
	pgtest.SkipShort(t)
	cluster, err := pgtest.StartCluster(pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, plugin.Config{DatabaseURL: cluster.Server().CreateDatabase(t), EmbeddingDim: 8})
	c.must(http.StatusOK, "GET", "/v1/health", nil, nil)

	// A writer commits without pause and keeps the ids acknowledged with 201.
	var (
		mu    sync.Mutex
		acked []string
		codes = map[int]int{}
	)
	stop := make(chan struct{})
	someAcked := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		w := &client{t: t, base: c.base}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			status, data := w.call("POST", "/v1/namespaces/"+ws+"/memories", map[string]any{"content": fmt.Sprintf("write %d", i), "kind": "fact", "source": "agent"})
			mu.Lock()
			codes[status]++
			if status == http.StatusCreated {
				var a struct{ ID string }
				json.Unmarshal(data, &a)
				acked = append(acked, a.ID)
				if len(acked) == 20 {
					close(someAcked)
				}
			}
			mu.Unlock()
			if status != http.StatusCreated {
				time.Sleep(5 * time.Millisecond) // spare the shared CPU while it is down
			}
		}
	})
	<-someAcked

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	status, data := c.call("GET", "/v1/health", nil)
	took := time.Since(began)
	var h struct{ Status, Version string }
	json.Unmarshal(data, &h)
	if status != http.StatusServiceUnavailable || h.Status != "degraded" || h.Version != "1.0.0" {
		t.Fatalf("health with the database down = %d %s; want 503 degraded", status, data)
	}
	if took > 3*time.Second {
		t.Fatalf("health took %v with the database down; its bound is about 2s", took)
	}
	status, data = c.call("POST", "/v1/memories/batch", map[string]any{"memories": []map[string]any{{"namespace": ws, "content": "batch during outage", "kind": "fact", "source": "agent"}}})
	var e envelope
	json.Unmarshal(data, &e)
	if status != http.StatusServiceUnavailable || e.Code != "unavailable" {
		t.Fatalf("batch with the database down = %d %s; want 503 unavailable", status, data)
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _ := c.call("GET", "/v1/health", nil)
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %d 30s after the database came back", status)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, not synchronisation
	}
	// Let the writer see the database back before stopping it.
	mu.Lock()
	before := codes[http.StatusCreated]
	mu.Unlock()
	for {
		mu.Lock()
		n := codes[http.StatusCreated]
		mu.Unlock()
		if n > before+5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer does not get its writes through after the database came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("answers: %v", codes)
	for status := range codes {
		if status != http.StatusCreated && status != http.StatusServiceUnavailable {
			t.Errorf("a write during the outage got %d; want 201 or 503", status)
		}
	}

	found := map[string]bool{}
	for start := 0; start < len(acked); start += 1000 {
		var got memories
		c.must(http.StatusOK, "POST", "/v1/memories/lookup", map[string]any{"ids": acked[start:min(len(acked), start+1000)]}, &got)
		for _, m := range got.Memories {
			found[m.ID] = true
		}
	}
	for _, id := range acked {
		if !found[id] {
			t.Errorf("acknowledged write %s was lost", id)
		}
	}
	if got := c.search(map[string]any{"namespaces": []string{ws}, "query": "batch during outage"}); len(got) > 0 && got[0].Content == "batch during outage" {
		t.Error("the batch refused during the outage was written")
	}
}

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/internal/pgtest"
)

// labelKey marks every container and image the tests create; its value is
// the run's id, so one run never removes another's.
const labelKey = "tenant-init-e2e"

// run identifies this test binary's run.
var run struct {
	id   string // "pid<n>": the containers' label value and the images' when not kept
	keep bool   // TENANT_INIT_E2E_KEEP_IMAGES: images are tagged :kept and survive the run
}

// containerLabel returns the label put on every container of this run.
func containerLabel() string { return labelKey + "=" + run.id }

// imageTag names the images of this run, or the kept ones.
func imageTag() string {
	if run.keep {
		return "kept"
	}
	return run.id
}

func TestMain(m *testing.M) {
	keep, err := envvar.OS.Bool("TENANT_INIT_E2E_KEEP_IMAGES", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	run.keep = keep
	run.id = fmt.Sprintf("pid%d", os.Getpid())
	removeStale()

	// An interrupted run (Ctrl-C on go test) still removes what it created.
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-interrupted
		fmt.Fprintf(os.Stderr, "e2e: %v: removing this run's containers and images\n", sig)
		removeAll()
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()

	code := pgtest.Run(m)
	removeAll()
	os.Exit(code)
}

// images holds the images built once per run, on first use.
var images struct {
	once   sync.Once
	tenant string // Dockerfile.tenant built from local material
	demo   string // tenant plus demomain as /app/server
	log    string // what the builds took
	err    error
}

// demoImage returns the test image, building both images on first use. It
// fails t when Docker is missing or a build fails.
func demoImage(t *testing.T) string {
	t.Helper()
	images.once.Do(func() {
		images.err = buildImages()
	})
	if images.err != nil {
		t.Fatalf("e2e: the test images could not be built: %v", images.err)
	}
	return images.demo
}

func buildImages() error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("the docker CLI is not on PATH: the end-to-end tests need a Docker engine (install it from the distribution's packages)")
	}
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		return fmt.Errorf("the Docker daemon does not answer (start it; the end-to-end tests need it): %v: %s", err, bytes.TrimSpace(out))
	}
	tag := imageTag()
	images.tenant = "tenant-init-e2e:" + tag
	images.demo = "tenant-init-e2e-demo:" + tag
	label := labelKey + "=" + tag

	start := time.Now()
	build := exec.Command("bash", filepath.Join("..", "scripts", "build-image-local.sh"))
	build.Env = append(os.Environ(),
		"IMAGE="+images.tenant,
		"BUILDER_IMAGE=tenant-init-e2e-builder:"+tag,
		"LABEL="+label)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/build-image-local.sh: %v\n%s", err, lastBytes(out, 6000))
	}
	tenantTime := time.Since(start)

	start = time.Now()
	ctx, err := os.MkdirTemp("", "tenant-init-e2e-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctx)
	gobuild := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(ctx, "server"), "./demomain")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		return fmt.Errorf("building demomain: %v\n%s", err, out)
	}
	out, err := exec.Command("docker", "build", "--force-rm", "--label", label,
		"--build-arg", "BASE="+images.tenant, "-t", images.demo,
		"-f", filepath.Join("demomain", "Dockerfile"), ctx).CombinedOutput()
	if err != nil {
		return fmt.Errorf("building the demo image: %v\n%s", err, lastBytes(out, 6000))
	}
	images.log = fmt.Sprintf("tenant image %s built in %s, demo image in %s", images.tenant, tenantTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	fmt.Fprintln(os.Stderr, "e2e:", images.log)
	return nil
}

// removeAll removes this run's containers, and its images unless kept.
func removeAll() {
	if _, err := exec.LookPath("docker"); err != nil {
		return
	}
	removeContainers(containerLabel())
	if !run.keep {
		removeImages(containerLabel())
	}
}

// removeStale removes what earlier runs left behind when they were killed
// before their own clean-up: everything labelled by a process that is gone.
func removeStale() {
	if _, err := exec.LookPath("docker"); err != nil {
		return
	}
	for _, kind := range []string{"container", "image"} {
		list := []string{"ps", "-aq"}
		if kind == "image" {
			list = []string{"images", "-aq"}
		}
		out, err := exec.Command("docker", append(list, "--filter", "label="+labelKey)...).Output()
		if err != nil {
			return
		}
		for _, id := range strings.Fields(string(out)) {
			v, err := exec.Command("docker", kind, "inspect", "--format", `{{index .Config.Labels "`+labelKey+`"}}`, id).Output()
			if err != nil {
				continue
			}
			value := strings.TrimSpace(string(v))
			pid, err := strconv.Atoi(strings.TrimPrefix(value, "pid"))
			if err != nil || !strings.HasPrefix(value, "pid") {
				continue // "kept" images stay
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				continue // that run is still going
			}
			if kind == "container" {
				removeContainers(labelKey + "=" + value)
			} else {
				removeImages(labelKey + "=" + value)
			}
		}
	}
}

func removeContainers(label string) {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+label).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		if out, err := exec.Command("docker", append([]string{"rm", "-f", "-v"}, ids...)...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: removing containers %s: %v: %s\n", label, err, out)
		}
	}
}

// removeImages removes the labelled images. A build leaves a chain of
// intermediate images; removing a leaf prunes its untagged parents, and an
// image with children cannot go first, so it takes a few passes.
func removeImages(label string) {
	var ids []string
	for pass := 0; pass < 5; pass++ {
		out, _ := exec.Command("docker", "images", "-aq", "--filter", "label="+label).Output()
		if ids = strings.Fields(string(out)); len(ids) == 0 {
			return
		}
		_ = exec.Command("docker", append([]string{"rmi", "-f"}, ids...)...).Run()
	}
	fmt.Fprintf(os.Stderr, "e2e: images labelled %s could not be removed: %v\n", label, ids)
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

package supervisor

import (
	"bytes"
	"os"
	"reflect"
	"strconv"
	"testing"
)

func TestMergeEnvLetsALaterEntryReplaceAnEarlierOne(t *testing.T) {
	got := mergeEnv(
		[]string{"PATH=/bin", "MEMORY_PLUGIN_URL=http://db.example:9100", "HOME=/root"},
		[]string{"HOME=/home/app"},
		[]string{"MEMORY_PLUGIN_URL="},
	)
	want := []string{"PATH=/bin", "MEMORY_PLUGIN_URL=", "HOME=/home/app"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestStderrTailPassesLinesThroughAndKeepsTheLast20(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var tail stderrTail
	done := tail.follow(r, &out)
	var in bytes.Buffer
	for i := 1; i <= 25; i++ {
		in.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	in.WriteString("last words")
	w.Write(in.Bytes())
	w.Close()
	<-done

	if want := in.String() + "\n"; out.String() != want {
		t.Fatalf("passed through %q, want the input with its last line ended", out.String())
	}
	lines := tail.last()
	if len(lines) != 20 || lines[0] != "line 7" || lines[19] != "last words" {
		t.Fatalf("kept %q, want line 7 to last words", lines)
	}
}

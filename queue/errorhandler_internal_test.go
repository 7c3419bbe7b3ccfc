package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/riverqueue/river/rivertype"
)

// TestErrorHandler checks that a failed or panicking job is logged with
// what an operator needs to find it (its id, kind and attempt), and that
// River's own retry policy stays in charge (no result).
func TestErrorHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := &errorHandler{logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	job := &rivertype.JobRow{ID: 42, Kind: "deliver", Attempt: 3}
	ctx := context.Background()

	if res := h.HandleError(ctx, job, errors.New("record outcomes: connection refused")); res != nil {
		t.Errorf("HandleError = %+v, want nil (River retries as configured)", res)
	}
	if res := h.HandlePanic(ctx, job, "index out of range", "goroutine 7 [running]:\nmain.work()"); res != nil {
		t.Errorf("HandlePanic = %+v, want nil", res)
	}
	dec := json.NewDecoder(&buf)
	for _, want := range []map[string]any{
		{"level": "ERROR", "msg": "job failed", "job_id": 42.0, "kind": "deliver", "attempt": 3.0, "error": "record outcomes: connection refused"},
		{"level": "ERROR", "msg": "job panicked", "job_id": 42.0, "kind": "deliver", "panic": "index out of range", "trace": "goroutine 7 [running]:\nmain.work()"},
	} {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("log line: %v", err)
		}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("log %q: %s = %v, want %v", want["msg"], k, line[k], v)
			}
		}
	}
	if dec.More() {
		t.Error("more log lines than the two expected")
	}
}

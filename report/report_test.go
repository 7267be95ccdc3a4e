package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// applied and pending are lists in every encoding of a report, and encoding
// does not change the report.
func TestEmptyListsEncodeAsLists(t *testing.T) {
	r := &Report{Command: "up", Status: StatusNoop, Error: &Error{Message: "a <b> & c"}}
	b, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(b), `"applied":[]`) || !strings.Contains(string(b), `"pending":[]`) {
		t.Fatalf("json.Marshal: %s %v", b, err)
	}
	if r.Applied != nil || r.Pending != nil {
		t.Error("encoding changed the report")
	}
	var w bytes.Buffer
	if err := WriteJSON(&w, r); err != nil || !strings.Contains(w.String(), `"message":"a <b> & c"`) || !strings.Contains(w.String(), `"applied":[]`) {
		t.Fatalf("WriteJSON: %s %v", w.String(), err)
	}
}

package desktop

import "testing"

// Every message id exists in English and Hindi, with the same fmt verbs.
func TestMessagesComplete(t *testing.T) {
	if len(messages) != 2 {
		t.Errorf("languages = %d, want en and hi", len(messages))
	}
	for _, miss := range messages.Missing() {
		t.Errorf("missing: %s", miss)
	}
	for _, id := range messages.VerbsMatch("en") {
		t.Errorf("fmt verbs differ: %s", id)
	}
}

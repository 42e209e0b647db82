package urlfetch

import (
	"context"
	"errors"
	"testing"
)

func TestClientFails(t *testing.T) {
	_, err := Client(context.Background()).Get("http://127.0.0.1:1/")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get: %v, want ErrUnavailable", err)
	}
}

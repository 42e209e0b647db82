package queue

import (
	"fmt"
	"time"
)

// SQS's limits, which both adapters enforce before a message leaves the
// process, so the local backend refuses what SQS would.
const (
	// MaxMessageSize is the most bytes a message may hold, as MessageSize
	// counts them: SQS's limit since August 2025.
	MaxMessageSize = 1 << 20
	// MaxAttributes is the most message attributes a message may carry.
	MaxAttributes = 10
	// MaxDelay is the longest delay a message may be sent with.
	MaxDelay = 15 * time.Minute
	// MaxWait is the longest long-polling wait of one receive.
	MaxWait = 20 * time.Second
	// MaxVisibility is the longest visibility timeout.
	MaxVisibility = 12 * time.Hour
)

// Refusal is why SQS would refuse a message, with the error code it gives
// (MissingParameter, InvalidMessageContents or InvalidParameterValue).
type Refusal struct {
	Code    string
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// MessageSize is the size SQS counts for a message: the body's bytes plus,
// for each attribute, the bytes of its name, data type ("String") and value.
func MessageSize(m Outgoing) int {
	size := len(m.Body)
	for k, v := range m.Attributes {
		size += len(k) + len("String") + len(v)
	}
	return size
}

// CheckOutgoing checks one message against SQS's limits and returns its
// MessageSize, or a *Refusal.
func CheckOutgoing(m Outgoing) (int, error) {
	refuse := func(code, format string, args ...any) (int, error) {
		return 0, &Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
	}
	const invalid = "InvalidParameterValue"
	switch {
	case m.Body == "":
		return refuse("MissingParameter", "empty message body")
	case !ValidText(m.Body):
		return refuse("InvalidMessageContents", "message body holds characters SQS does not allow")
	case m.Delay < 0 || m.Delay > MaxDelay:
		return refuse(invalid, "delay %v out of range 0 to %v", m.Delay, MaxDelay)
	case len(m.Attributes) > MaxAttributes:
		return refuse(invalid, "%d message attributes, at most %d allowed", len(m.Attributes), MaxAttributes)
	}
	for k, v := range m.Attributes {
		if !ValidAttributeName(k) {
			return refuse(invalid, "invalid message attribute name %q", k)
		}
		if v == "" || !ValidText(v) {
			return refuse(invalid, "message attribute %s: value must be non-empty text SQS allows", k)
		}
	}
	size := MessageSize(m)
	if size > MaxMessageSize {
		return refuse(invalid, "message of %d bytes exceeds %d", size, MaxMessageSize)
	}
	return size, nil
}

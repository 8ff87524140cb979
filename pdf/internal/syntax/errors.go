package syntax

import (
	"errors"
	"fmt"
	"time"
)

// Limits bounds the work done on one file. Zero fields take the defaults of
// DefaultLimits.
type Limits struct {
	MaxObjects        int           // in-use objects per revision
	MaxXrefEntries    int           // xref entries summed over all sections
	MaxDepth          int           // nesting of arrays and dictionaries
	MaxObjectTokens   int           // tokens in one object
	MaxStreamBytes    int64         // decoded bytes of one stream
	MaxTotalBytes     int64         // decoded bytes of all streams together
	MaxRevisions      int           // xref sections in the /Prev chain
	MaxRefChain       int           // references followed to reach one value
	Timeout           time.Duration // whole job; negative = none
	MaxStringBytes    int           // one string (e.g. /Contents)
	MaxObjectStreamsN int           // objects in one object stream
}

// DefaultLimits are generous for real documents and small enough that a
// hostile file ends quickly: about 2 s and well under 256 MiB.
var DefaultLimits = Limits{
	MaxObjects:        1_000_000,
	MaxXrefEntries:    2_000_000,
	MaxDepth:          256,
	MaxObjectTokens:   1 << 20,
	MaxStreamBytes:    64 << 20,
	MaxTotalBytes:     192 << 20,
	MaxRevisions:      1000,
	MaxRefChain:       32,
	Timeout:           2 * time.Second,
	MaxStringBytes:    16 << 20,
	MaxObjectStreamsN: 100_000,
}

// WithDefaults returns l with every zero field set from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.MaxObjects == 0 {
		l.MaxObjects = d.MaxObjects
	}
	if l.MaxXrefEntries == 0 {
		l.MaxXrefEntries = d.MaxXrefEntries
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxObjectTokens == 0 {
		l.MaxObjectTokens = d.MaxObjectTokens
	}
	if l.MaxStreamBytes == 0 {
		l.MaxStreamBytes = d.MaxStreamBytes
	}
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	if l.MaxRevisions == 0 {
		l.MaxRevisions = d.MaxRevisions
	}
	if l.MaxRefChain == 0 {
		l.MaxRefChain = d.MaxRefChain
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxStringBytes == 0 {
		l.MaxStringBytes = d.MaxStringBytes
	}
	if l.MaxObjectStreamsN == 0 {
		l.MaxObjectStreamsN = d.MaxObjectStreamsN
	}
	return l
}

// ErrLimit is matched (errors.Is) by every *LimitError.
var ErrLimit = errors.New("pdf resource limit exceeded")

// ErrSyntax is matched (errors.Is) by every *SyntaxError.
var ErrSyntax = errors.New("malformed pdf")

// ErrCycle reports a reference cycle (an object whose value depends on
// itself, or a /Prev chain that loops).
var ErrCycle = errors.New("pdf reference cycle")

// ErrUnsupported reports a feature the parser does not handle (an
// unknown stream filter, encryption).
var ErrUnsupported = errors.New("unsupported pdf feature")

// LimitError says which limit a file exceeded.
type LimitError struct {
	Limit string // field name in Limits
	Max   int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("pdf resource limit exceeded: %s (max %d)", e.Limit, e.Max)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// SyntaxError is malformed input at a byte offset.
type SyntaxError struct {
	Offset int64
	Msg    string
	Err    error // optional cause (ErrCycle, io.ErrUnexpectedEOF, ...)
}

func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("malformed pdf at offset %d: %s", e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Unwrap returns the cause.
func (e *SyntaxError) Unwrap() error { return e.Err }

func syntaxErr(off int64, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

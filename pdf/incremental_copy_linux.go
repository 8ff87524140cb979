package pdf

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copyFileAndHash copies size bytes of src to dst with copy_file_range
// (the kernel moves the data, no user-space copy) while this goroutine
// hashes src. It returns handled=false, having written nothing, when the
// kernel cannot do the copy, so the caller falls back to read+write.
func copyFileAndHash(ctx context.Context, dst, src *os.File, size int64, h hash.Hash) (handled bool, err error) {
	// Probe with the first chunk so an unsupported pair of files falls
	// back before anything is written.
	const step = 8 << 20
	var roff int64
	first := min(int64(step), size)
	n, cerr := unix.CopyFileRange(int(src.Fd()), &roff, int(dst.Fd()), nil, int(first), 0)
	if cerr != nil || n <= 0 {
		if n > 0 {
			return true, fmt.Errorf("pdf: copying input: %w", cerr)
		}
		return false, nil
	}
	done := make(chan error, 1)
	go func() {
		for roff < size {
			if ctx.Err() != nil {
				done <- ctx.Err()
				return
			}
			n, err := unix.CopyFileRange(int(src.Fd()), &roff, int(dst.Fd()), nil, int(min(int64(step), size-roff)), 0)
			if err != nil {
				done <- fmt.Errorf("pdf: copying input: %w", err)
				return
			}
			if n == 0 {
				done <- fmt.Errorf("pdf: copying input: %w", io.ErrUnexpectedEOF)
				return
			}
		}
		done <- nil
	}()
	herr := hashRange(ctx, src, size, h)
	cerr = <-done
	return true, errors.Join(herr, cerr)
}

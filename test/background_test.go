package test

import (
	"os"
	"sync"
)

// background is work that tests need and that runs in other processes:
// the go command and the README's app (freshapp_test.go), and this test
// binary run again for one test (bench_test.go, acknowledgements_test.go).
// TestMain starts all of it before the first test of a full run, so that
// it uses the machine's other core while this package's own jsii runtime
// keeps one busy, instead of adding its time after theirs. A test run on
// its own (-run) starts what it needs itself and waits for it.
type background[T any] struct {
	once  sync.Once
	done  chan struct{}
	work  func(dir string) (T, error)
	dir   string
	value T
	err   error
}

// backgroundWork is every background run, for TestMain.
var backgroundWork []interface {
	start()
	finish()
}

// inBackground registers work, which gets a temporary directory of its own
// that is removed when the package's tests end.
func inBackground[T any](work func(dir string) (T, error)) *background[T] {
	b := &background[T]{work: work, done: make(chan struct{})}
	backgroundWork = append(backgroundWork, b)
	return b
}

func (b *background[T]) start() {
	b.once.Do(func() {
		go func() {
			defer close(b.done)
			if b.dir, b.err = os.MkdirTemp("", "passthrough-test-"); b.err != nil {
				return
			}
			b.value, b.err = b.work(b.dir)
		}()
	})
}

// wait starts the work if TestMain did not, and returns its result.
func (b *background[T]) wait() (T, error) {
	b.start()
	<-b.done
	return b.value, b.err
}

// finish waits for work that was started and removes its directory.
func (b *background[T]) finish() {
	b.once.Do(func() { close(b.done) }) // never started: nothing to wait for
	<-b.done
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

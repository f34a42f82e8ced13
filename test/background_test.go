package test

import "sync"

// background is work that tests need and that runs in other processes:
// this test binary run again (acknowledgements_test.go, offload_test.go).
// TestMain starts all of it before the first test of a full run, so that
// it uses the machine's other core while this package's own jsii runtime
// keeps one busy, instead of adding its time after theirs. A test run on
// its own (-run) starts what it needs itself and waits for it.
type background[T any] struct {
	once  sync.Once
	done  chan struct{}
	work  func() (T, error)
	value T
	err   error
}

// backgroundWork is every background run, for TestMain.
var backgroundWork []interface {
	start()
	finish()
}

// inBackground registers work.
func inBackground[T any](work func() (T, error)) *background[T] {
	b := &background[T]{work: work, done: make(chan struct{})}
	backgroundWork = append(backgroundWork, b)
	return b
}

func (b *background[T]) start() {
	b.once.Do(func() {
		go func() {
			defer close(b.done)
			b.value, b.err = b.work()
		}()
	})
}

// wait starts the work if TestMain did not, and returns its result.
func (b *background[T]) wait() (T, error) {
	b.start()
	<-b.done
	return b.value, b.err
}

// finish waits for work that was started, so that no process of it
// outlives the test binary.
func (b *background[T]) finish() {
	b.once.Do(func() { close(b.done) }) // never started: nothing to wait for
	<-b.done
}

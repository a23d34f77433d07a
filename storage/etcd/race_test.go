package etcd_test

import (
	"sync"
	"sync/atomic"
	"testing"
)

// winners runs try(i) for i in [0, n) all at once (the tests spread i over
// their replicas) and counts the calls that answered true; an error fails
// the test as what (the call's name) without stopping the others.
func winners(t *testing.T, n int, what string, try func(i int) (bool, error)) int {
	t.Helper()
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ok, err := try(i)
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	return int(won.Load())
}

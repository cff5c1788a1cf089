package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// poll calls check every interval until it reports done, fails, or timeout passes. The
// error on timeout says what was awaited and the last progress check reported.
func poll(ctx context.Context, what string, interval, timeout time.Duration, check func(ctx context.Context) (done bool, progress string, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		done, progress, err := check(ctx)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if done {
			return nil
		}
		if progress != "" {
			last = progress
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not done after %s (last: %s)", what, timeout, last)
		case <-t.C:
		}
	}
}

// pollInterval grows with n: a list of 5,000 connections is several megabytes of JSON,
// and polling it too often would slow down the manager being measured.
func pollInterval(n int) time.Duration {
	d := time.Duration(n) * time.Second / 2500
	return min(max(d, 250*time.Millisecond), 2*time.Second)
}

// forEach runs fn for 0..n-1 on workers goroutines and returns the first error.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// sleepCtx waits d unless ctx ends first. Used only where waiting is the measurement (the
// rest window), never to synchronise.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

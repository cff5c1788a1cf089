package rotation

import "sync"

// What this process holds of the chains: a lock per chain, and the rotated refresh tokens
// the API server did not store yet.

// Unsaved says whether a rotated refresh token of the chain with this id is held in
// memory only.
func (c *Chains) Unsaved(id string) bool {
	_, ok := c.unsavedOf(id)
	return ok
}

// UnsavedCount is how many chains hold a rotated refresh token in memory only.
func (c *Chains) UnsavedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.unsaved)
}

func (c *Chains) lock(id string) func() {
	c.mu.Lock()
	l := c.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[id] = l
	}
	c.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (c *Chains) unsavedOf(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.unsaved[id]
	return t, ok
}

func (c *Chains) hold(id, token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unsaved[id] = token
}

func (c *Chains) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.unsaved, id)
}

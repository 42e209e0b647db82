package dynamometer

import "sort"

// Calls returns the metered calls, in order.
func (m *Meter) Calls() []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Call(nil), m.calls...)
}

// Total is the units of every call.
func (m *Meter) Total() Units {
	var t Units
	for _, c := range m.Calls() {
		t = t.Add(c.Total())
	}
	return t
}

// ByTarget is the units by target: TableTarget and each index.
func (m *Meter) ByTarget() map[string]Units {
	out := map[string]Units{}
	for _, c := range m.Calls() {
		for t, u := range c.Units {
			out[t] = out[t].Add(u)
		}
	}
	return out
}

// ByLabel is the units by the label of the item each call wrote or read.
func (m *Meter) ByLabel() map[string]Units {
	out := map[string]Units{}
	for _, c := range m.Calls() {
		out[c.Label] = out[c.Label].Add(c.Total())
	}
	return out
}

// ByOp is the units by operation.
func (m *Meter) ByOp() map[string]Units {
	out := map[string]Units{}
	for _, c := range m.Calls() {
		out[c.Op] = out[c.Op].Add(c.Total())
	}
	return out
}

// PerSecond is the histogram of units by partition key and second.
func (m *Meter) PerSecond() map[PartitionSecond]Units {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[PartitionSecond]Units, len(m.seconds))
	for k, v := range m.seconds {
		out[k] = v
	}
	return out
}

// Hottest returns the partition key and second with the most write units,
// and the one with the most read units (ties broken by key, for stable
// reports).
func (m *Meter) Hottest() (write, read PartitionSecond, units Units) {
	ps := m.PerSecond()
	keys := make([]PartitionSecond, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Second < b.Second
	})
	for _, k := range keys {
		if u := ps[k]; u.Write > units.Write {
			write, units.Write = k, u.Write
		}
		if u := ps[k]; u.Read > units.Read {
			read, units.Read = k, u.Read
		}
	}
	return write, read, units
}

package codec

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// leakCheckedMem returns an allocator that fails the test if any Arrow
// buffer allocated through it is still held when the test ends.
func leakCheckedMem(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func mustSpec(t testing.TB, spec string) *Schema {
	t.Helper()
	s, err := ParseSchemaSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

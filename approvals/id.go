package approvals

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// IDAlphabet is the 32 symbols request IDs are written in: digits and
// lowercase letters without 0, 1, l and o, which people mistype.
const IDAlphabet = "23456789abcdefghijkmnpqrstuvwxyz"

// IDLength is the length of every request ID. All IDs have the same length,
// so no ID is a prefix of another.
const IDLength = 8

// NewID returns a random request ID such as "r7k2qxa9": 40 bits from
// crypto/rand written in IDAlphabet. Collisions are possible in principle;
// Service.Open retries when the store reports ErrExists.
func NewID() (string, error) {
	var b [5]byte // 40 bits = 8 symbols of 5 bits
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate request ID: %w", err)
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	out := make([]byte, IDLength)
	for i := IDLength - 1; i >= 0; i-- {
		out[i] = IDAlphabet[v&31]
		v >>= 5
	}
	return string(out), nil
}

// ParseID normalises what a person typed (surrounding space, upper case)
// and checks that it looks like a request ID. The error does not quote the
// text, which may be long: the caller echoes it, shortened, when it says
// what was typed.
func ParseID(s string) (string, error) {
	id := strings.ToLower(strings.TrimSpace(s))
	if len(id) != IDLength || strings.Trim(id, IDAlphabet) != "" {
		return "", fmt.Errorf("not a request ID: IDs are %d letters and digits, like r7k2qxa9: %w", IDLength, ErrInvalid)
	}
	return id, nil
}

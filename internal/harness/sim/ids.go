package sim

import (
	"fmt"
	"math/rand/v2"
	"regexp"
)

// idGen hands out resource ids in AWS's shapes, deterministically from the seed:
// "i-0" + 16 hex digits (17 hex digits after the dash, as AWS's long ids have),
// "eni-0…", "eni-attach-0…", "r-0…".
type idGen struct {
	rng  *rand.Rand
	seen map[string]bool
}

func newIDGen(seed int64) *idGen {
	return &idGen{rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed5eed)), seen: map[string]bool{}}
}

func (g *idGen) next(prefix string) string {
	for {
		id := fmt.Sprintf("%s0%016x", prefix, g.rng.Uint64())
		if !g.seen[id] {
			g.seen[id] = true
			return id
		}
	}
}

func (g *idGen) instance() string   { return g.next("i-") }
func (g *idGen) eni() string        { return g.next("eni-") }
func (g *idGen) attachment() string { return g.next("eni-attach-") }
func (g *idGen) reservation() string {
	return g.next("r-")
}

// uuid returns a random (seeded) RFC 4122 version 4 string, as AWS uses for message
// ids, request ids and generated execution names.
func (g *idGen) uuid() string {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	a = (a &^ 0xf000) | 0x4000
	b = (b &^ (0xc << 60)) | (0x8 << 60)
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// AWS accepts the short (8 hex) and long (17 hex) id forms; anything else is malformed.
var (
	instanceIDRe   = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	eniIDRe        = regexp.MustCompile(`^eni-([0-9a-f]{8}|[0-9a-f]{17})$`)
	attachmentIDRe = regexp.MustCompile(`^eni-attach-([0-9a-f]{8}|[0-9a-f]{17})$`)
)

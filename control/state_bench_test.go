package control

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/steer-gslb/steer/popmap"
)

// BenchmarkStateDecode: what a DNS server spends decoding a state of 20
// PoPs with load moves active, on every change of health or admin state.
// The moves are named (patch_sha256), not carried: with an 8,000-network
// patch inline the same state was 434 kB and took 10–14 ms to decode here.
func BenchmarkStateDecode(b *testing.B) {
	st := &State{Index: 42, PoPs: map[popmap.Label]*PoPState{}, Map: &MapRef{Version: 7, SHA256: fmt.Sprintf("%064x", 1), TableSHA256: fmt.Sprintf("%064x", 2)},
		PatchSHA256: fmt.Sprintf("%064x", 3), PatchVersion: 7, PatchID: 12}
	for i := range 20 {
		st.PoPs[popmap.Label(fmt.Sprintf("p%02d", i))] = &PoPState{Admin: "up", Health: HealthUp, VotesUp: 10, Load: 0.5, MovedNetworks: 400, MovedShare: 0.01}
	}
	data, err := json.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var got State
		if err := json.Unmarshal(data, &got); err != nil {
			b.Fatal(err)
		}
	}
}

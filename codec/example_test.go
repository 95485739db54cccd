package codec_test

import (
	"fmt"

	"github.com/deltasync/deltasync/change"

	"github.com/deltasync/deltasync/codec"
)

func ExampleEncoder() {
	enc, err := codec.NewEncoder()
	if err != nil {
		panic(err)
	}
	defer enc.Close()
	dec, err := codec.NewDecoder(codec.DefaultLimits)
	if err != nil {
		panic(err)
	}
	defer dec.Close()

	clock := codec.Clock{HLC: 1_732_000_000_000 << 16, Site: 0}
	batch := &codec.Batch{
		Origin: change.SiteID{15: 1},
		First:  0, Last: 2,
		Sites:  []change.SiteID{{15: 1}},
		Tables: []codec.Table{{Name: "notes", Columns: []string{"title", "pinned"}}},
		Changes: []codec.Change{
			{Table: 0, Op: change.Insert, Key: []any{"n1"}, Clock: clock,
				Columns: []int{0, 1}, Values: []any{"groceries", int64(0)}, Clocks: []codec.Clock{clock, clock}},
			{Table: 0, Op: change.Delete, Key: []any{"n0"}, Clock: codec.Clock{HLC: clock.HLC + 1}},
		},
	}
	frame, err := enc.Encode(nil, batch)
	if err != nil {
		panic(err)
	}
	got, err := dec.Decode(frame)
	if err != nil {
		panic(err)
	}
	fmt.Printf("versions (%d, %d], %d changes\n", got.First, got.Last, len(got.Changes))
	for _, c := range got.Changes {
		t := got.Tables[c.Table]
		fmt.Printf("%s %s %v", c.Op, t.Name, c.Key)
		for i, col := range c.Columns {
			fmt.Printf(" %s=%#v", t.Columns[col], c.Values[i])
		}
		fmt.Println()
	}
	// Output:
	// versions (0, 2], 2 changes
	// insert notes [n1] title="groceries" pinned=0
	// delete notes [n0]
}

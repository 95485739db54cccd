package benchmarks_test

import "testing"

// BenchmarkCapture measures what deltasync's triggers add to an app's
// writes: the same rows written to plain SQLite and to a database with
// deltasync installed, in turns, in one run. x-plain is the ratio.
// Targets: prepared-1000 at most 1.5, prepared-1 at most 1.25, exec-1000 at most 2.5.
func BenchmarkCapture(b *testing.B) {
	for _, m := range []mode{prepared1000, prepared1, exec1000} {
		b.Run(m.name, func(b *testing.B) {
			for _, o := range ops {
				b.Run(o.name, func(b *testing.B) {
					compare(b, []variant{plain, deltasync}, m, o)
				})
			}
		})
	}
}

// Package dbdiff compares the app tables of two SQLite databases row by row,
// by storage class and bytes: what `deltasync diff` and the convergence
// tests check.
package dbdiff

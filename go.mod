module github.com/deltasync/deltasync

go 1.26.8

require (
	github.com/golang-migrate/migrate/v4 v4.20.1
	github.com/jmoiron/sqlx v1.4.0
	github.com/klauspost/compress v1.20.4
)

require github.com/mattn/go-sqlite3 v1.14.53

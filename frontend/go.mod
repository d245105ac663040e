// This file only marks frontend/ as outside the Go module, so that
// `go test ./...` and `go vet ./...` skip Go files that npm packages ship
// inside node_modules.
module frontend

go 1.26

package main

import (
	"context"
	"errors"
	"io"
)

func traffic(ctx context.Context, args []string, stderr io.Writer) error {
	_ = ctx
	_ = args
	_ = stderr
	return errors.New("traffic: not wired yet")
}

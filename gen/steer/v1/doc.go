// Package steerv1 is the generated Go code of proto/steer/v1/steering.proto,
// the steering API's messages (`make proto` regenerates it; see package
// steerapi for the service).
package steerv1

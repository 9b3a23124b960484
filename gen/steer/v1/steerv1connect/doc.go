// Package steerv1connect is the generated Connect client and handler of
// steer.v1.SteeringService (`make proto` regenerates it).
package steerv1connect

// Package plot draws small PNG charts for steer's analytics commands:
// weighted histograms (a PDF of per-network latency gain, weighted by
// traffic), line charts (a loss curve, a CDF) and points on an
// equirectangular world frame (PoP sites, client networks).
//
// It depends only on the standard library and golang.org/x/image's 7x13
// bitmap font. Charts are plain structs: fill one in and call WritePNG or
// SavePNG. Rendering uses no anti-aliasing and no randomness, so the same
// chart gives the same bytes every time; colors come from a fixed palette
// readable on white.
//
// Every input value must be finite: NaN and ±Inf are rejected with an
// error naming the series and index, and an empty chart is an error
// (ErrEmpty) rather than a blank picture.
package plot

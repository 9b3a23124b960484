// Command gen writes the trimmed data files that package data embeds, from
// the raw data sets described in data/SOURCES.md:
//
//	go run ./data/internal/gen -raw /work/shared/data/raw -out data/
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/steer-gslb/steer/data/internal/trim"
)

func main() {
	raw := flag.String("raw", "/work/shared/data/raw", "directory holding the raw data sets")
	out := flag.String("out", "data", "directory to write the trimmed files to")
	flag.Parse()
	s, err := trim.Run(*raw, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("%+v\n", s)
}

package popmap

// Label names a PoP ("fra", "ams"). A map ranks labels per network; it never
// knows the PoP's addresses (gdnsd's split between a map and a resource).
type Label string
